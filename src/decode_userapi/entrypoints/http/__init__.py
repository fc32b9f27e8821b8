"""The Litestar entrypoint: HTTP in, use-case calls, HTTP out."""
