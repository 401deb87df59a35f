"""Pydantic models of every file a person edits: cards, centre, owners, price list, stacks."""
