"""Benchmarks (never part of the test run); each script prints its figures, the last line one JSON object."""
