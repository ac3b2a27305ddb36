"""Registries of incubators, startups and talent, and talent programmes (see issue: talent)."""
