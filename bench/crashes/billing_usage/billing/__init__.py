"""Usage-based billing: monthly statements from metered usage."""
