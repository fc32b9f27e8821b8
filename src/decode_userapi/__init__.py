"""User-facing API of DECODE OpenCloud."""
