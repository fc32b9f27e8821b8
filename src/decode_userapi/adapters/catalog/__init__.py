"""The application registry, read from YAML and reloaded when it changes."""
