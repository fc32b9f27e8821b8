"""Entities, value objects and domain errors. Standard library and msgspec only."""
