"""Currency conversion for the checkout."""
