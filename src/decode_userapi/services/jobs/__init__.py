"""Use cases of jobs: the registry, starting, following and deleting jobs."""
