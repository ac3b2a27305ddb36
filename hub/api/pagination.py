"""The open API's pages: `?page=N&size=M` (at most 200 items), answered as {count, next, previous, results}."""

from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 200


class PagePagination(PageNumberPagination):
    page_size_query_param = "size"
    max_page_size = MAX_PAGE_SIZE
