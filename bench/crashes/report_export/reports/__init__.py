"""Sales report export."""
