import pytest

from hub.search.indexing import ensure_indices


@pytest.fixture
def indices(search_index, db) -> str:
    """This test's own indices, created empty; returns their prefix."""
    ensure_indices()
    return search_index
