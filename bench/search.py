"""Search benchmark: the indexer's throughput from Kafka to a searchable index, and what the app adds to a query.

Run from the repository root:  .venv/bin/python bench/search.py   (about 12 minutes)

It starts its own PostgreSQL, tansu Kafka and noida-db search server through infra.stack (data under
bench/out/stack-search), migrates a fresh database, uses fresh topic and index prefixes, and stops
everything it started at the end.

1. Indexing. 100,000 scenarios.scenario.published.v1 events (mixed Chinese and English text over the
   plan's 18 sectors and 16 cities of Anhui, ~2 KB CloudEvents) are produced to the scenarios topic
   exactly as the relay sends them (same JSON, key = scenario id) before the indexer starts. Then the
   real service starts in its own process (`manage.py run_service indexer`). `index_docs_per_s` =
   documents / seconds from the first document in the read model until the read model has nothing
   pending and the index counts all 100,000 (start-up, i.e. Django and the consumer group join, is
   reported apart as `index_startup_s`). Baseline, after it: the same documents bulk-indexed straight
   into a fresh index (same mapping, chunks and external versions) → `index_raw_bulk_docs_per_s`, and
   `index_ratio` = indexer / baseline: what our pipeline keeps of what the search server can take.
2. Queries. A mix of Chinese, English, misspelt and empty (browse) queries, with and without a tab,
   facets, date sort and later pages, sent through the search API (`GET /api/v1/search/` with Django's
   test client in this process: URL routing, middleware, DRF, parameter checks, building and rendering
   the answer) → `search_p50_ms`, `search_p99_ms`. The same requests' Elasticsearch traffic
   (hub.search.queries.search_body, plus did_you_mean_body where the app sends it) sent raw with the
   same client, interleaved with the app's → `search_raw_p50_ms`; `search_overhead_ratio` = app p50 /
   raw p50. noida-db reads every document's text for every full-text query (~0.1 ms per document), so
   a query over all 100,000 takes seconds: the mix runs against the first 2,000 scenarios indexed again
   under a second prefix (--query-docs), and a few raw queries over all 100,000 are timed for the record
   (`search_raw_full_p50_ms`). A smaller index makes the ratio stricter, not looser: our overhead is a
   fixed few milliseconds per request. Absolute latency means little here (see docs/search.md).

Options: --docs 20000, --queries 200 (samples per side), --query-docs 5000, --full-queries 0, --only index|query.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make hub/, services/ and infra/ importable

from bench.events import cpu_seconds, cpu_share, create_database, drop_database, percentile  # noqa: E402

DATA_DIR = ROOT / "bench" / "out" / "stack-search"  # bench/out is git-ignored
DOCS = 100_000
QUERIES = 200
QUERY_DOCS = 2_000
FULL_QUERIES = 3
POLL_SECONDS = 0.25  # each poll counts the read model's rows: a cost to PostgreSQL, kept small

# --------------------------------------------------------------------------- the workload

CITIES = (
    ("合肥", "Hefei"),
    ("芜湖", "Wuhu"),
    ("蚌埠", "Bengbu"),
    ("淮南", "Huainan"),
    ("马鞍山", "Ma'anshan"),
    ("淮北", "Huaibei"),
    ("铜陵", "Tongling"),
    ("安庆", "Anqing"),
    ("黄山", "Huangshan"),
    ("滁州", "Chuzhou"),
    ("阜阳", "Fuyang"),
    ("宿州", "Suzhou"),
    ("六安", "Lu'an"),
    ("亳州", "Bozhou"),
    ("池州", "Chizhou"),
    ("宣城", "Xuancheng"),
)
# Per sector: phrases a scenario call of that sector uses, in Chinese and English.
TOPICS = {
    "new-energy-vehicles": (("新能源汽车", "new-energy vehicle"), ("电池健康预测", "battery health prediction")),
    "smart-marketing": (("智能营销", "smart marketing"), ("用户画像", "customer profiling")),
    "smart-office": (("智能办公", "smart office"), ("公文写作助手", "document drafting assistant")),
    "intelligent-interaction": (("智能交互", "intelligent interaction"), ("多轮对话", "multi-turn dialogue")),
    "industrial-internet": (("工业互联网", "industrial internet"), ("设备预测性维护", "predictive maintenance")),
    "industrial-design": (("工业设计", "industrial design"), ("生成式设计", "generative design")),
    "government-services": (("政务服务", "government services"), ("智能问答", "question answering")),
    "education": (("智慧教育", "smart education"), ("作业批改", "homework marking")),
    "healthcare": (("智慧医疗", "smart healthcare"), ("医学影像辅助诊断", "assisted imaging diagnosis")),
    "legal-services": (("法律服务", "legal services"), ("合同审查", "contract review")),
    "policing": (("智慧警务", "smart policing"), ("视频结构化", "video structuring")),
    "agriculture": (("智慧农业", "smart agriculture"), ("病虫害识别", "pest recognition")),
    "manufacturing-optimisation": (("工艺优化", "process optimisation"), ("质量检测", "quality inspection")),
    "procurement": (("智能采购", "smart procurement"), ("供应商评估", "supplier assessment")),
    "smart-home": (("智能家居", "smart home"), ("语音控制", "voice control")),
    "elderly-care": (("智慧养老", "smart elderly care"), ("跌倒检测", "fall detection")),
    "robotics": (("具身智能机器人", "embodied robotics"), ("柔性抓取", "flexible grasping")),
    "scientific-research": (("科学智能", "AI for science"), ("材料筛选", "materials screening")),
}
NEEDS = (
    ("场景需求", "scenario call"),
    ("应用示范", "demonstration project"),
    ("平台建设", "platform build"),
    ("大模型应用", "large-model application"),
)
SENTENCES = (
    ("我单位计划在{city}开展{a}与{b}的试点，", "We plan a pilot of {a_en} and {b_en} in {city_en}. "),
    (
        "现有生产和业务数据约{n}万条，可脱敏后提供给揭榜单位。",
        "About {n}0,000 records can be shared after anonymisation. ",
    ),
    (
        "希望通过通用人工智能大模型提升效率、降低成本，",
        "We expect general AI models to raise efficiency and cut costs. ",
    ),
    ("要求方案在六个月内完成部署并通过验收，", "The solution must be deployed and accepted within six months. "),
    ("优先考虑省内企业与高校联合申报。", "Joint bids by companies and universities in Anhui are preferred. "),
    ("项目成果将在全省{b}领域推广应用。", "Results will be rolled out across the province's {b_en} sector. "),
)
ORGANISATIONS = ("研究院", "集团有限公司", "人民医院", "数据资源管理局", "科技有限公司", "职业技术学院")


def scenario_data(scenario_id: int) -> dict[str, Any]:
    """One scenario's event data; the same id gives the same data in every run."""
    rng = random.Random(scenario_id)
    sector = rng.choice(list(TOPICS))
    (a, a_en), (b, b_en) = TOPICS[sector]
    city, city_en = rng.choice(CITIES)
    need, need_en = rng.choice(NEEDS)
    fill = {"city": city, "city_en": city_en, "a": a, "a_en": a_en, "b": b, "b_en": b_en, "n": rng.randint(2, 90)}
    picked = rng.sample(SENTENCES, k=rng.randint(4, 6))
    budget_max = rng.choice([None, 50_000, 300_000, 800_000, 2_000_000, 5_000_000, 20_000_000])
    published = 1_700_000_000 + scenario_id * 300
    return {
        "scenario_id": scenario_id,
        "version": 1,
        "title": f"{city}{a}{b}{need}",
        "title_en": f"{a_en.capitalize()} and {b_en} {need_en} in {city_en}",
        "description": "".join(zh.format(**fill) for zh, _ in picked),
        "description_en": "".join(en.format(**fill) for _, en in picked),
        "organisation_id": rng.randint(1, 2000),
        "organisation_name": f"{city}{rng.choice(ORGANISATIONS)}",
        "sector": sector,
        "city": city,
        "budget_min": None if budget_max is None else budget_max // 4,
        "budget_max": budget_max,
        "data_available": f"{a}数据{fill['n']}万条",
        "deadline": time.strftime("%Y-%m-%d", time.gmtime(published + rng.randint(10, 400) * 86400)),
        "status": rng.choice(["open", "open", "open", "matching", "awarded", "closed"]),
        "url": f"/scenarios/{scenario_id}/",
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(published)),
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(published)),
    }


def query_mix(count: int) -> list[dict[str, str]]:
    """Search requests as readers send them: mostly words, some facets, tabs, typos, browsing and paging."""
    rng = random.Random(2026)
    words = [zh for pair in TOPICS.values() for zh, _ in pair] + [en for pair in TOPICS.values() for _, en in pair]
    typos = ["helthcare", "industial internet", "quality inspecton", "robotcs", "smart hom", "goverment services"]
    mix = []
    for _ in range(count):
        roll = rng.random()
        params: dict[str, str] = {}
        if roll < 0.55:
            params["q"] = rng.choice(words)
        elif roll < 0.65:
            params["q"] = rng.choice(typos)
        elif roll < 0.8:
            params["q"] = f"{rng.choice(CITIES)[0]} {rng.choice(words)}"
        # else: browse (empty query)
        if rng.random() < 0.5:
            params["kind"] = "scenarios"
            if rng.random() < 0.5:
                params["sector"] = rng.choice(list(TOPICS))
            if rng.random() < 0.3:
                params["city"] = rng.choice(CITIES)[0]
            if rng.random() < 0.3:
                params["status"] = "open"
            if rng.random() < 0.2:
                params["budget"] = rng.choice(["100k-1m", "1m-10m"])
        if rng.random() < 0.2:
            params["sort"] = "date"
        if rng.random() < 0.2:
            params["page"] = str(rng.randint(2, 3))
        mix.append(params)
    return mix


# --------------------------------------------------------------------------- set-up


def configure_env(urls: dict[str, str], database_url: str) -> None:
    """Environment for Django here and for the indexer process; must precede django.setup()."""
    os.environ.update(urls)
    os.environ["DATABASE_URL"] = database_url
    os.environ["KAFKA_TOPIC_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}."
    os.environ["SEARCH_INDEX_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}-"
    os.environ["WANZHI_ENV_FILE"] = str(DATA_DIR / "no-such.env")  # never read a dev stack's URLs
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")


@contextlib.contextmanager
def bench_stack() -> Iterator[dict[str, int]]:
    """Stack up, fresh database migrated, Django set up; everything stopped and dropped on the way out.
    Yields the servers' PIDs (for CPU accounting)."""
    import logging

    from infra.stack import Stack

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stack = Stack(DATA_DIR, ports="auto", fast=True, parts=("postgres", "redis", "kafka", "search"))
    urls = stack.up()
    database = None
    try:
        database, database_url = create_database(urls["DATABASE_URL"])
        configure_env(urls, database_url)
        import django
        from django.core.management import call_command

        django.setup()
        logging.getLogger("kafka").setLevel(logging.ERROR)
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(
            "stack up (PostgreSQL, Redis, tansu Kafka, noida-db); "
            f"database migrated in {time.perf_counter() - started:.1f} s"
        )
        yield stack.pids()
    finally:
        try:
            if database:
                from django.db import connections

                connections.close_all()
                drop_database(urls["DATABASE_URL"], database)
        finally:
            stack.down()


def sql_row(query: str) -> tuple[Any, ...]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()


# --------------------------------------------------------------------------- 1. indexing


def produce_events(count: int) -> dict[str, float]:
    """The events on the scenarios topic as the relay would send them; returns bytes and rate."""
    from django.conf import settings
    from django.utils import timezone

    from hub.events.envelope import Envelope
    from hub.events.kafka import ensure_topics, new_producer
    from hub.events.registry import validate
    from hub.events.topics import topic_for_event
    from services.relay.relay import HEADERS

    type_name = "scenarios.scenario.published.v1"
    ensure_topics()
    topic = topic_for_event(type_name)
    producer = new_producer()
    started = time.perf_counter()
    sizes = []
    futures = []
    for scenario_id in range(1, count + 1):
        data = scenario_data(scenario_id)
        if scenario_id <= 100:
            validate(type_name, data)  # the generator makes valid events (spot check)
        body = Envelope(
            id=str(uuid.uuid4()),
            source=f"{settings.EVENTS['SOURCE']}/scenarios",
            type=type_name,
            time=timezone.now().isoformat(),
            subject=str(scenario_id),
            data=data,
        ).to_json()
        encoded = body.encode()
        sizes.append(len(encoded))
        futures.append(producer.send(topic, key=str(scenario_id).encode(), value=encoded, headers=HEADERS))
    producer.flush()
    for future in futures:
        future.get(timeout=0)
    producer.close()
    elapsed = time.perf_counter() - started
    print(
        f"kafka: {count:,} events produced in {elapsed:.1f} s ({count / elapsed:,.0f}/s); "
        f"CloudEvents {statistics.mean(sizes):,.0f} B on average ({min(sizes):,}–{max(sizes):,} B)"
    )
    return {"event_bytes_avg": statistics.mean(sizes)}


def measure_indexing(count: int, servers: dict[str, int]) -> dict[str, Any]:
    from hub.search.client import client
    from hub.search.indices import SCENARIOS

    produced = produce_events(count)
    log_path = DATA_DIR / "indexer.log"
    with log_path.open("ab") as log:
        started = time.monotonic()
        indexer = subprocess.Popen(
            [sys.executable, "manage.py", "run_service", "indexer"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        pids = {"indexer": indexer.pid, **servers}
        first = None
        cpu_before: dict[str, float] = {}
        deadline = started + 600
        while True:
            if indexer.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"the indexer exited with {indexer.returncode}: " + " | ".join(tail))
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for the indexer")
            total, pending = sql_row(
                "SELECT count(*), count(*) FILTER (WHERE indexed_version IS NULL OR indexed_version < version) "
                "FROM search_searchdocument"
            )
            now = time.monotonic()
            if first is None and total:
                first, cpu_before = now, cpu_seconds(pids)
                print(f"indexer: first document in the read model {first - started:.1f} s after the process started")
            if total == count and pending == 0:
                done = now
                cpu = cpu_share(cpu_before, cpu_seconds(pids), done - first) if first else {}
                break
            time.sleep(POLL_SECONDS)
        es = client(timeout=120)
        es.indices.refresh(index=SCENARIOS.alias)
        in_index = es.count(index=SCENARIOS.alias)["count"]
    finally:
        indexer.send_signal(signal.SIGTERM)
        try:
            indexer.wait(30)
        except subprocess.TimeoutExpired:
            indexer.kill()
    assert first is not None
    rate = count / (done - first)
    print(
        f"indexer: {count:,} documents in {done - first:.1f} s = {rate:,.0f} docs/s (goal ≥ 5,000), "
        f"{in_index:,} in the index; start-up {first - started:.1f} s"
    )
    print(f"  CPU while indexing, % of one core: {', '.join(f'{k} {v}' for k, v in cpu.items())}")
    if in_index != count:
        raise RuntimeError(f"the index holds {in_index:,} documents, not {count:,}")
    return {
        "index_docs_per_s": round(rate),
        "index_seconds": round(done - first, 1),
        "index_startup_s": round(first - started, 1),
        "index_docs": count,
        "index_cpu_pct": cpu,
        **{key: round(value) for key, value in produced.items()},
    }


def raw_bulk(count: int, servers: dict[str, int]) -> dict[str, Any]:
    """The baseline: the same documents bulk-indexed straight into a fresh index of the same mapping, in
    the indexer's chunks and with its external versions, nothing else running: what noida-db takes."""
    from hub.search.client import client
    from hub.search.indexing import PUSH_CHUNK, create_index
    from hub.search.indices import SCENARIOS
    from hub.search.models import SearchDocument

    es = client(timeout=300)
    name = create_index(SCENARIOS)
    rows = list(SearchDocument.objects.order_by("id").values_list("doc_id", "version", "source")[:count])
    chunks = [
        [
            line
            for doc_id, version, source in rows[start : start + PUSH_CHUNK]
            for line in (
                {"index": {"_index": name, "_id": doc_id, "version": version, "version_type": "external"}},
                source,
            )
        ]
        for start in range(0, len(rows), PUSH_CHUNK)
    ]
    cpu_before, started = cpu_seconds(servers), time.perf_counter()
    for operations in chunks:
        if es.bulk(operations=operations)["errors"]:
            raise RuntimeError("the baseline bulk had errors")
    elapsed = time.perf_counter() - started
    cpu = cpu_share(cpu_before, cpu_seconds(servers), elapsed)
    es.indices.delete(index=name)
    rate = len(rows) / elapsed
    print(
        f"baseline: the same {len(rows):,} documents bulk-indexed raw: {rate:,.0f} docs/s (search {cpu['search']}% CPU)"
    )
    return {"index_raw_bulk_docs_per_s": round(rate)}


# --------------------------------------------------------------------------- 2. queries


def query_corpus(docs: int) -> None:
    """The first `docs` scenarios of the read model pushed again to fresh indices (a second prefix)."""
    from django.conf import settings

    from hub.search.indexing import documents_push, ensure_indices
    from hub.search.models import SearchDocument
    from hub.search.services import StoredDocument

    settings.SEARCH_INDEX_PREFIX = f"{settings.SEARCH_INDEX_PREFIX}q{docs}-"
    ensure_indices()
    rows = SearchDocument.objects.order_by("id").values_list("kind", "doc_id", "version", "source", "deleted")
    result = documents_push(documents=[StoredDocument(*row) for row in rows[:docs]], refresh=True)
    if result.pushed != docs:
        raise RuntimeError(f"pushing the query corpus failed: {result.error}")


def raw_search(params: dict[str, str], *, timeout: float | None = None) -> float:
    """Milliseconds for the Elasticsearch traffic search() sends for these parameters, sent raw (the
    bodies are built before the clock starts); with search()'s client unless given a longer timeout."""
    from django.http import QueryDict
    from django.utils.http import urlencode

    from hub.search.client import client
    from hub.search.params import params_from
    from hub.search.queries import FEW_HITS, TIMEOUT_S, clean_query, did_you_mean_body, search_body

    request = params_from(QueryDict(urlencode(params)), strict=True, allow_size=True)
    query = clean_query(request.query)[0]
    indices, body = search_body(**{**request.search_kwargs(), "query": query})
    suggestion = did_you_mean_body(query)
    es = client(timeout=timeout or TIMEOUT_S, retries=0)
    started = time.perf_counter()
    response = es.search(index=",".join(indices), ignore_unavailable=True, allow_no_indices=True, **body)
    if query and response["hits"]["total"]["value"] < FEW_HITS:
        es.search(index=",".join(indices), ignore_unavailable=True, allow_no_indices=True, **suggestion)
    return (time.perf_counter() - started) * 1000


def measure_queries(count: int, *, corpus: int, full: int) -> dict[str, Any]:
    import warnings

    from django.test import Client

    # Timed against the full index first, raw only: a few samples show what noida-db does at 100,000.
    mix = query_mix(count)
    text_queries = [params for params in mix if params.get("q")][:full]
    full_ms = [raw_search(params, timeout=600) for params in text_queries]
    if full_ms:
        print(f"raw full-text queries over every document: p50 {statistics.median(full_ms):,.0f} ms ({len(full_ms)})")

    query_corpus(corpus)
    warnings.filterwarnings("ignore", message="No directory at")  # static files are not served here
    web = Client()

    def app(params: dict[str, str]) -> float:
        started = time.perf_counter()
        response = web.get("/api/v1/search/", params)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or response.json()["degraded"]:
            raise RuntimeError(f"{params}: {response.status_code} {response.content[:300]!r}")
        return elapsed

    for params in mix[:10]:  # warm-up: connections, caches, Django's first request
        raw_search(params)
        app(params)
    app_ms: list[float] = []
    raw_ms: list[float] = []
    for n, params in enumerate(mix):
        # Alternate which goes first, so neither always meets a cache the other warmed.
        if n % 2:
            raw_ms.append(raw_search(params))
            app_ms.append(app(params))
        else:
            app_ms.append(app(params))
            raw_ms.append(raw_search(params))
    result: dict[str, Any] = {
        "search_p50_ms": round(percentile(app_ms, 50), 1),
        "search_p99_ms": round(percentile(app_ms, 99), 1),
        "search_raw_p50_ms": round(percentile(raw_ms, 50), 1),
        "search_raw_p99_ms": round(percentile(raw_ms, 99), 1),
        "search_queries": len(mix),
        "search_corpus_docs": corpus,
        "search_raw_full_p50_ms": round(statistics.median(full_ms), 1) if full_ms else None,
    }
    result["search_overhead_ratio"] = round(result["search_p50_ms"] / result["search_raw_p50_ms"], 3)
    overhead = [a - r for a, r in zip(app_ms, raw_ms, strict=True)]
    result["search_overhead_p50_ms"] = round(percentile(overhead, 50), 1)
    print(
        f"queries ({len(mix)} per side over {corpus:,} scenarios, GET /api/v1/search/ vs the same traffic raw): "
        f"app p50 {result['search_p50_ms']} ms, p99 {result['search_p99_ms']} ms; raw p50 "
        f"{result['search_raw_p50_ms']} ms, p99 {result['search_raw_p99_ms']} ms; ratio "
        f"{result['search_overhead_ratio']} (goal ≤ 1.3); "
        f"app minus raw per query p50 {result['search_overhead_p50_ms']} ms"
    )
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=DOCS)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--query-docs", type=int, default=QUERY_DOCS, help="scenarios the query mix runs over")
    parser.add_argument("--full-queries", type=int, default=FULL_QUERIES, help="raw queries over every document")
    parser.add_argument("--only", choices=("all", "index", "query"), default="all")
    args = parser.parse_args()
    # A SIGTERM to the benchmark unwinds through the finally blocks, so the stack stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict[str, Any] = {}
    with bench_stack() as servers:
        indexing = measure_indexing(args.docs, servers)  # the queries need the documents in any case
        if args.only in ("all", "index"):
            results.update(indexing)
            results.update(raw_bulk(args.docs, servers))
            results["index_ratio"] = round(results["index_docs_per_s"] / results["index_raw_bulk_docs_per_s"], 2)
        if args.only in ("all", "query"):
            results.update(measure_queries(args.queries, corpus=args.query_docs, full=args.full_queries))
    for key in ("index_docs_per_s", "search_p50_ms", "search_p99_ms", "search_raw_p50_ms", "search_overhead_ratio"):
        results.setdefault(key, None)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
