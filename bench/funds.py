"""Funds benchmark: a call's manager dashboard at 1,000 and 10,000 applications × 3 reviews.

Run from the repository root:  .venv/bin/python bench/funds.py   (a couple of minutes, most of it building data)

It starts its own PostgreSQL and Redis (sessions and cache) through infra.stack (data under
bench/out/stack-funds), migrates a fresh database, and stops everything it started at the end.

Data. One fund and one published call with a two-criterion rubric and a pool of 30 reviewers; the
applications come from 500 startups, spread over the stages after submission (most in review or
decided), each with 3 assignments and 3 reviews (weighted totals around 70, one application in twenty
with a review far off the others, so the outlier rule has something to flag) and one trail line for
the step into its current stage (for ageing). Rows are bulk-inserted, then VACUUM ANALYZE, as autovacuum
would after such a load. The first 1,000 applications are measured, then 9,000 more are added and the
same requests measured again.

Measured. `GET /funds/manage/calls/<id>/dashboard/` through Django's test client in this process,
signed in as the fund's manager (URL routing, middleware, session, the permission check, the dashboard
selector's SQL, template rendering), sequential requests after a warm-up, two mixes:
- dashboard: the queue as managers mostly open it, in submission order: a quarter each of page 1, a
  random page, one stage (`status=in_review`) and a search → `dashboard_p50_ms`, `dashboard_p99_ms`
  (goal p99 ≤ 100 ms), `dashboard_queries` (the most queries one request made);
- ranked: ordered by the scores' spread or mean, or only the outliers, which aggregates every
  application of the call → `ranked_p50_ms`, `ranked_p99_ms`, `ranked_queries`.
Both at 10,000 applications, and with a `_1k` suffix at 1,000: the queries are the same at both sizes,
which is the point (nothing is loaded per application). The call's spread fence (the outlier rule's
threshold) is cached for a minute (funds.selectors.FENCE_SECONDS), so the measured requests find it
cached, as a manager's requests mostly do; `fence_ms` is one computation of it at 10,000 applications.
The last line printed is one JSON object.
"""

from __future__ import annotations

import datetime
import json
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make hub/, funds/ and infra/ importable

from bench.events import django_stack, percentile  # noqa: E402

DATA_DIR = ROOT / "bench" / "out" / "stack-funds"  # bench/out is git-ignored
SIZES = (1_000, 10_000)
REVIEWS = 3
ORGANISATIONS = 500
POOL = 30
WARMUP = 20
REQUESTS = 400
BATCH = 5_000
# Stages after submission, weighted roughly as a busy call looks mid-review.
STAGES = [
    ("submitted", 5),
    ("screening", 10),
    ("in_review", 40),
    ("decision_pending", 15),
    ("approved", 10),
    ("rejected", 15),
    ("withdrawn", 5),
]


def build_call() -> tuple[Any, Any, list[Any], list[Any]]:
    """The fund, its manager, a published call with its rubric and pool; returns (call, manager, reviewers,
    organisations)."""
    from django.utils import timezone

    from funds.models import Call, Fund, PoolReviewer, RubricCriterion
    from hub.accounts.models import Organisation, User

    now = timezone.now()
    manager = User.objects.create_user(username="fund-manager", display_name="基金经理")
    fund = Fund.objects.create(
        name="安徽省人工智能天使基金",
        kind=Fund.Kind.ANGEL,
        managing_organisation=Organisation.objects.create(name="安徽省引导基金", kind=Organisation.Kind.FUND),
        total_budget=Decimal("10000000000.00"),
    )
    fund.managers.add(manager)
    call = Call.objects.create(
        fund=fund,
        title="2026年度通用人工智能创业项目征集",
        status=Call.Status.PUBLISHED,
        published_at=now,
        opens_at=now - datetime.timedelta(days=60),
        closes_at=now + datetime.timedelta(days=30),
        budget_envelope=Decimal("5000000000.00"),
        reviewers_per_application=REVIEWS,
    )
    RubricCriterion.objects.create(call=call, position=1, title="创新性", weight=Decimal("2"), max_score=10)
    RubricCriterion.objects.create(call=call, position=2, title="可行性", weight=Decimal("1"), max_score=5)
    reviewers = User.objects.bulk_create([User(username=f"reviewer-{n}") for n in range(POOL)])
    PoolReviewer.objects.bulk_create([PoolReviewer(call=call, reviewer=r, expertise=["视觉"]) for r in reviewers])
    organisations = Organisation.objects.bulk_create(
        [
            Organisation(name=f"合肥初创企业{n}", kind=Organisation.Kind.STARTUP, region="合肥市")
            for n in range(ORGANISATIONS)
        ]
    )
    return call, manager, reviewers, organisations


def add_applications(call: Any, manager: Any, reviewers: list[Any], organisations: list[Any], count: int) -> None:
    """`count` more applications, each with its trail line, 3 assignments and 3 reviews, bulk-inserted."""
    from django.utils import timezone

    from funds.models import Application, ApplicationEvent, Review, ReviewAssignment

    rng = random.Random(20261127 + count)
    now = timezone.now()
    stages, weights = zip(*STAGES, strict=True)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        applications = []
        for _ in range(size):
            status = rng.choices(stages, weights)[0]
            requested = Decimal(rng.randrange(100, 2000) * 1000)
            decided = status == "approved"
            applications.append(
                Application(
                    call=call,
                    organisation=rng.choice(organisations),
                    created_by=manager,  # who started it is not what the dashboard reads
                    title=f"工业视觉质检大模型{rng.randrange(10**6)}",
                    status=status,
                    form_version=1,
                    answers={"summary": "面向制造业的视觉质检。"},
                    requested_amount=requested,
                    approved_amount=requested if decided else None,
                    locked=decided,
                    submitted_at=now - datetime.timedelta(days=rng.randrange(1, 60), minutes=rng.randrange(1440)),
                )
            )
        applications = Application.objects.bulk_create(applications)
        ApplicationEvent.objects.bulk_create(
            [
                ApplicationEvent(
                    application=a,
                    actor=manager,
                    action="step",
                    from_status="submitted",
                    to_status=a.status,
                    at=now - datetime.timedelta(days=rng.randrange(0, 30)),
                )
                for a in applications
            ]
        )
        assignments = ReviewAssignment.objects.bulk_create(
            [
                ReviewAssignment(application=a, reviewer=r, assigned_by=manager)
                for a in applications
                for r in rng.sample(reviewers, REVIEWS)
            ]
        )
        reviews = []
        for n, assignment in enumerate(assignments):
            total = Decimal(rng.gauss(70, 5)).quantize(Decimal("0.01"))
            if n % (20 * REVIEWS) == 0:
                total = Decimal(rng.uniform(10, 30)).quantize(Decimal("0.01"))  # one far-off review
            reviews.append(Review(assignment=assignment, scores={}, total=max(Decimal(0), min(Decimal(100), total))))
        Review.objects.bulk_create(reviews)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def flagged(call: Any, manager: Any) -> int:
    """How many applications the outlier rule flags (a sanity check that it flags a few, not all)."""
    from funds.selectors import DashboardFilters, call_dashboard

    return call_dashboard(user=manager, call=call, filters=DashboardFilters(outliers_only=True)).count


def fence_ms(call: Any) -> float:
    """The median time of computing the call's spread fence without the cache."""
    from funds.selectors import _spread_fence

    times = []
    for _ in range(7):
        started = time.perf_counter()
        _spread_fence(call)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def mixes(pages: int) -> dict[str, list[Any]]:
    """The requests measured, each a query string maker: the dashboard as managers mostly open it (in
    submission order), and the views ranked on the scores (every application aggregated)."""
    rng = random.Random(7)
    return {
        "dashboard": [
            lambda: "",
            lambda: f"?page={rng.randrange(1, pages + 1)}",
            lambda: "?status=in_review",
            lambda: "?search=质检大模型12",
        ],
        "ranked": [lambda: "?outliers_only=on", lambda: "?order=spread", lambda: "?order=mean&status=in_review"],
    }


def measure(client: Any, url: str, mix: list[Any]) -> dict[str, Any]:
    """Warm up, then REQUESTS sequential requests over the mix; latencies and the queries of each kind."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(WARMUP):
        assert client.get(url + mix[n % len(mix)]()).status_code == 200
    samples = []
    for n in range(REQUESTS):
        query = mix[n % len(mix)]()
        started = time.perf_counter()
        response = client.get(url + query)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, query
    counts = set()
    for make in mix:
        with CaptureQueriesContext(connection) as queries:
            client.get(url + make())
        counts.add(len(queries))
    return {"p50": round(statistics.median(samples), 2), "p99": round(percentile(samples, 99), 2), "queries": counts}


def main() -> None:
    with django_stack(DATA_DIR):
        from django.test import Client
        from django.urls import reverse

        from funds.manage_views import PAGE_SIZE

        call, manager, reviewers, organisations = build_call()
        client = Client()
        client.force_login(manager)
        url = reverse("funds_manage:dashboard", kwargs={"call_id": call.pk})
        figures: dict[str, Any] = {}
        built = 0
        for size in SIZES:
            started = time.perf_counter()
            add_applications(call, manager, reviewers, organisations, size - built)
            built = size
            print(f"{size} applications × {REVIEWS} reviews built in {time.perf_counter() - started:.1f} s")
            suffix = "" if size == SIZES[-1] else f"_{size // 1000}k"
            for name, mix in mixes(size // PAGE_SIZE).items():
                result = measure(client, url, mix)
                print(
                    f"  {name} at {size}: p50 {result['p50']} ms, p99 {result['p99']} ms, "
                    f"queries per request {sorted(result['queries'])}"
                )
                figures[f"{name}_p50_ms{suffix}"] = result["p50"]
                figures[f"{name}_p99_ms{suffix}"] = result["p99"]
                figures[f"{name}_queries{suffix}"] = max(result["queries"])
            figures[f"fence_ms{suffix}"] = took = fence_ms(call)
            print(f"  outliers flagged: {flagged(call, manager)} of {size}; the fence computed in {took} ms")
        figures["dashboard_goal_p99_ms"] = 100
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
