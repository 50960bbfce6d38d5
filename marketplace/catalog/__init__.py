"""Catalog: jewellers' pieces, their photos and the gold that backs them."""
