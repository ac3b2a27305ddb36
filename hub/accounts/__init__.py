"""Users, organisations and roles: the only models other contexts may reference."""
