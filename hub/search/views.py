"""The search results page and the autocomplete endpoint behind the search box."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from hub.i18n import path_for_reader
from hub.search.indices import facets, get_kind, kinds
from hub.search.params import SearchParams, params_from
from hub.search.queries import Hit, InvalidSearch, SearchResults, check_kind, search, suggest


def _link(params: SearchParams, **changes: Any) -> str:
    """`?…` for these parameters with `changes` applied; the page goes back to 1 unless given."""
    values: dict[str, Any] = {**params.search_kwargs(), "page": 1, **changes}
    pairs: list[tuple[str, Any]] = [("q", values["query"])]
    if values["kind"]:
        pairs.append(("kind", values["kind"]))
    if values["sort"] != "relevance":
        pairs.append(("sort", values["sort"]))
    pairs += [(name, value) for name, chosen in values["filters"].items() for value in chosen]
    if values["page"] != 1:
        pairs.append(("page", values["page"]))
    return "?" + urlencode(pairs)


def _tabs(params: SearchParams, results: SearchResults) -> list[dict[str, Any]]:
    known = facets()

    def filters_of(kind: str | None) -> dict[str, list[str]]:
        # A tab keeps the filters that apply to it; the others would only be refused there.
        return {name: values for name, values in params.filters.items() if kind is None or known[name][1].name == kind}

    tabs = [
        {
            "label": _("All"),
            "count": sum(results.counts.values()),
            "url": _link(params, kind=None, filters=filters_of(None)),
            "active": params.kind is None,
        }
    ]
    for kind in kinds():
        tabs.append(
            {
                "label": kind.label,
                "count": results.counts.get(kind.name, 0),
                "url": _link(params, kind=kind.name, filters=filters_of(kind.name)),
                "active": params.kind == kind.name,
            }
        )
    return tabs


def _meta(hit: Hit) -> list[tuple[str, str]]:
    """What is shown under a hit's title: facet values by their labels, the deadline, the budget."""
    known = facets()
    shown: list[tuple[str, str]] = []
    for facet_name, field in (
        ("sector", "sector"),
        ("city", "city"),
        ("status", "status"),
        ("organisation", "organisation_name"),
        ("page_kind", "page_kind"),
        ("issuing_body", "issuing_body"),
        ("validity", "validity"),
        ("org_kind", "org_kind"),
    ):
        if field in hit.fields and facet_name in known:
            facet = known[facet_name][0]
            shown.append((str(facet.label), str(facet.label_of(str(hit.fields[field])))))
    if "deadline" in hit.fields:
        shown.append((_("Deadline"), hit.fields["deadline"]))
    low, high = hit.fields.get("budget_min"), hit.fields.get("budget_max")
    if low is not None or high is not None:
        amount = "–".join(f"¥{value:,}" for value in (low, high) if value is not None)
        shown.append((_("Budget"), amount))
    return shown


@require_GET
def results(request: HttpRequest) -> HttpResponse:
    """Search across kinds; every parameter it cannot use is ignored with a notice, never an error."""
    params = params_from(request.GET, strict=False)
    found = search(**params.search_kwargs())
    if found.total and found.page > found.pages:  # past the end (an old link, a hand-made URL)
        params.page = found.pages
        params.notices.append(_("There are fewer pages than that; showing the last one."))
        found = search(**params.search_kwargs())
    notices = [*params.notices, *found.notices]
    kind_labels = {kind.name: kind.label for kind in kinds()}
    context = {
        "params": params,
        "results": found,
        "notices": notices,
        "tabs": _tabs(params, found),
        "hits": [
            # Documents carry default-language paths; the reader follows theirs (/en/...).
            {
                "hit": hit,
                "url": path_for_reader(hit.url),
                "kind_label": kind_labels.get(hit.kind, ""),
                "meta": _meta(hit),
            }
            for hit in found.hits
        ],
        "facet_groups": [facet for facet in found.facets if facet.buckets],
        "sorts": [("relevance", _("Relevance")), ("date", _("Newest first"))],
        "previous_url": _link(params, page=found.page - 1) if found.has_previous else "",
        "next_url": _link(params, page=found.page + 1) if found.has_next else "",
        "did_you_mean_url": _link(params, query=found.did_you_mean) if found.did_you_mean else "",
        "clear_url": _link(params, filters={}),
        "kind_labels": kind_labels,
    }
    return render(request, "search/results.html", context)


@require_GET
def suggestions(request: HttpRequest) -> JsonResponse:
    """`?q=prefix[&kind=…]` → {"suggestions": [{"text", "kind", "url"}]}, for the search box's list."""
    kind = request.GET.get("kind", "").strip() or None
    try:
        check_kind(kind)
    except InvalidSearch as error:
        return JsonResponse({"field": error.field, "detail": error.reason}, status=400)
    found = suggest(prefix=request.GET.get("q", ""), kind=kind)
    labels = {name: str(get_kind(name).label) for name in {s.kind for s in found} if name}
    return JsonResponse(
        {
            "suggestions": [
                {"text": s.text, "kind": s.kind, "kind_label": labels.get(s.kind, ""), "url": s.url} for s in found
            ]
        }
    )
