"""Semantic rules beyond the schema: each module checks one concern and returns findings."""
