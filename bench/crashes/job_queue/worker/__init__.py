"""Background job runner for thumbnail rendering."""
