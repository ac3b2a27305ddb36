"""Local development infrastructure: the service stack launcher (see infra.stack)."""
