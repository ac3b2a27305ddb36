"""Search parameters from a GET query string, shared by the results page (lenient) and the API (strict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext as _

from hub.search.indices import facets
from hub.search.queries import (
    MAX_FILTER_VALUES,
    MAX_RESULTS,
    InvalidSearch,
    check_filter,
    check_kind,
    check_page,
    check_size,
    check_sort,
)

DEFAULT_SIZE = 20


@dataclass
class SearchParams:
    query: str = ""
    kind: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    size: int = DEFAULT_SIZE
    notices: list[str] = field(default_factory=list)  # what the lenient reading ignored, for the reader

    def search_kwargs(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "kind": self.kind,
            "filters": self.filters,
            "sort": self.sort,
            "page": self.page,
            "size": self.size,
        }


def _whole_number(field_name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidSearch(field_name, "a whole number") from None


def params_from(data: QueryDict, *, strict: bool, allow_size: bool = False) -> SearchParams:
    """Read q, kind, sort, page, size and one parameter per facet (repeated for several values).

    `strict` (the API) raises InvalidSearch naming the first parameter that cannot be used; otherwise
    (the page) each such parameter is ignored and a notice says so. Parameters nobody knows are ignored.
    """
    params = SearchParams(query=data.get("q", ""))

    def refuse(error: InvalidSearch, notice: str) -> None:
        if strict:
            raise error
        params.notices.append(notice)

    kind = data.get("kind", "").strip() or None
    if kind == "all":
        kind = None
    try:
        check_kind(kind)
        params.kind = kind
    except InvalidSearch as error:
        refuse(error, _("There is no category “%(kind)s”; showing all categories.") % {"kind": kind})
    sort = data.get("sort", "").strip() or "relevance"
    try:
        check_sort(sort)
        params.sort = sort
    except InvalidSearch as error:
        refuse(error, _("Results cannot be sorted by “%(sort)s”; sorted by relevance.") % {"sort": sort})
    if allow_size and data.get("size"):
        try:
            size = _whole_number("size", data.get("size", ""))
            check_size(size)
            params.size = size
        except InvalidSearch as error:
            refuse(error, _("The page size was not understood; showing %(n)d per page.") % {"n": DEFAULT_SIZE})
    if data.get("page"):
        page: int | None = None
        try:
            page = _whole_number("page", data.get("page", ""))
            check_page(page, size=params.size)
            params.page = page
        except InvalidSearch:
            if strict:
                raise
            if page is not None and page > 1:  # a number, only deeper than readers may page
                params.page = (MAX_RESULTS - 1) // params.size + 1
                params.notices.append(
                    _("Only the first %(n)s results can be browsed; showing the last page of those.")
                    % {"n": f"{MAX_RESULTS:,}"}
                )
            else:
                params.notices.append(_("The page number was not understood; showing the first page."))
    for name, (facet, _owner) in facets().items():
        values = [value.strip() for value in data.getlist(name) if value.strip()]
        if not values:
            continue
        try:
            check_filter(name, values, kind=params.kind)
            params.filters[name] = values
        except InvalidSearch as error:
            if strict:
                raise
            kept = []
            for value in values:
                try:
                    check_filter(name, [value], kind=params.kind)
                    kept.append(value)
                except InvalidSearch:
                    pass
            if kept:
                params.filters[name] = kept[:MAX_FILTER_VALUES]
            refuse(error, _("A filter on “%(facet)s” was ignored: it does not apply here.") % {"facet": facet.label})
    return params
