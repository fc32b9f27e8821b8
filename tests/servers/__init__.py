"""Throwaway servers the integration tests start on 127.0.0.1: PostgreSQL and moto."""
