"""Contact import from CSV exports of other CRMs."""
