"""Settings, the dependency container, the HTTP app and the CLI."""
