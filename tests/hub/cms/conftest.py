import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Pages of one test must never be served from another test's cache."""
    cache.clear()
