"""Scripts that run inside the sandbox (not imported by the host)."""
