"""Shipped credit models, their model cards, and the scripts that reproduce them."""
