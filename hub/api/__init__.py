"""Open-API plumbing shared by every context's API: token sign-in, throttles and pagination."""
