"""In-memory fakes of our own ports, for tests that are not about those ports."""
