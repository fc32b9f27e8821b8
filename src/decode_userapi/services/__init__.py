"""Use cases: one class per action, ports passed in."""
