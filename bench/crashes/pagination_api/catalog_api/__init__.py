"""Product listing API with page-number pagination."""
