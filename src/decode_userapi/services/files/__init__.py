"""The files use cases: every user's private space on the `FileStorage` port."""
