"""Secrets fetched at start (AWS Secrets Manager)."""
