"""Metered compute: a finished scoring job is charged to its organisation's credit at the configured prices,
the active subsidy programme pays its share within its fund's budget, and a job is charged once however
often its event arrives."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from funds.credit.models import CreditAccount, LedgerEntry
from funds.credit.services import usage_cost
from funds.models import Fund
from hub.accounts.models import Organisation
from hub.events.models import OutboxEvent
from hub.events.publish import publish
from services.scorer.events import JobFinished
from tests.factories import OrganisationFactory
from tests.funds.credit.factories import SubsidyProgrammeFactory
from tests.funds.credit.support import gpu_job
from tests.funds.test_budget_concurrency import race
from tests.support import consumer


@pytest.fixture(autouse=True)
def prices(settings) -> None:
    settings.COMPUTE_CREDIT = {
        **settings.COMPUTE_CREDIT,
        "CPU_HOUR_PRICE": Decimal("0.60"),
        "GPU_HOUR_PRICE": Decimal("12.00"),
    }


def finished(
    organisation_id: int | None, *, job_id: str | None = None, device: str = "cpu", cpu=36.0, wall=90.0
) -> str:
    """A scoring.job.finished.v1 envelope as the relay puts it on Kafka."""
    event = JobFinished(
        job_id=job_id or str(uuid.uuid4()),
        submission_id=7,
        scores={"public": {"accuracy": 0.9}},
        primary_ci=None,
        device={"kind": device, "id": "0" if device == "gpu" else "cpu"},
        wall_seconds=wall,
        cpu_seconds=cpu,
        peak_memory_bytes=10_000_000,
        reproducibility={
            "version": 1,
            "submission_sha256": "0" * 64,
            "hidden_labels_sha256": "0" * 64,
            "hidden_inputs_sha256": None,
            "config_sha256": "0" * 64,
            "program_sha256": None,
            "runtime": {"python": "3.11", "numpy": "2", "onnxruntime": "1"},
            "sandbox_backend": "bwrap",
        },
        organisation_id=organisation_id,
    )
    with transaction.atomic():
        envelope = publish(event, key=7)
    return OutboxEvent.objects.get(event_id=envelope.id).body


def test_costs_follow_the_prices_cpu_time_always_and_gpu_wall_time_on_a_gpu():
    assert usage_cost(device_kind="cpu", cpu_seconds=36, wall_seconds=90) == Decimal("0.0060")  # 0.01 h × 0.60
    assert usage_cost(device_kind="gpu", cpu_seconds=36, wall_seconds=90) == Decimal("0.3060")  # + 0.025 h × 12
    assert usage_cost(device_kind="cpu", cpu_seconds=0.0001, wall_seconds=1) == Decimal("0.0000")


def test_a_finished_job_is_charged_once_however_often_it_is_delivered(startup):
    body = finished(startup.pk, device="gpu")
    funds = consumer("funds")
    assert funds.apply(body).value == "applied"
    assert funds.apply(body).value == "duplicate"
    # The same job in a second envelope (re-published, a new event id) still charges once.
    job_id = json.loads(body)["data"]["job_id"]
    assert funds.apply(finished(startup.pk, job_id=job_id, device="gpu")).value == "applied"
    [usage] = LedgerEntry.objects.filter(kind="usage")
    assert usage.amount == Decimal("-0.3060") and usage.details["gpu_seconds"] == 90.0
    assert CreditAccount.objects.get(organisation=startup).balance == Decimal("-0.3060")


def test_jobs_without_an_organisation_charge_nobody(db):
    assert consumer("funds").apply(finished(None)).value == "applied"
    assert not LedgerEntry.objects.exists()


def test_the_active_subsidy_programme_pays_its_share_and_its_fund_books_it(startup):
    programme = SubsidyProgrammeFactory(share=Decimal("0.75"))
    SubsidyProgrammeFactory(  # over: pays nothing
        starts_at=timezone.now() - datetime.timedelta(days=60), ends_at=timezone.now() - datetime.timedelta(days=1)
    )
    consumer("funds").apply(finished(startup.pk, device="gpu", cpu=0, wall=3600))  # ¥12.00
    usage, subsidy = LedgerEntry.objects.order_by("id")
    assert (usage.amount, subsidy.amount, subsidy.programme) == (Decimal("-12"), Decimal("9"), programme)
    assert CreditAccount.objects.get(organisation=startup).balance == Decimal("-3")
    fund = Fund.objects.get(pk=programme.fund_id)
    assert (fund.committed, fund.disbursed) == (Decimal("9.00"), Decimal("9.00"))


def test_a_subsidy_never_exceeds_what_its_fund_has_left(startup):
    programme = SubsidyProgrammeFactory(share=Decimal("1.00"), fund__total_budget=Decimal("20.00"))
    for _ in range(3):
        consumer("funds").apply(finished(startup.pk, device="gpu", cpu=0, wall=3600))  # ¥12.00 each
    paid = [e.amount for e in LedgerEntry.objects.filter(kind="subsidy").order_by("id")]
    assert paid == [Decimal("12"), Decimal("8")]
    fund = Fund.objects.get(pk=programme.fund_id)
    assert fund.committed == fund.total_budget == Decimal("20.00")
    assert CreditAccount.objects.get(organisation=startup).balance == Decimal("-16")


def test_a_programme_for_other_kinds_of_organisation_pays_nothing(startup):
    SubsidyProgrammeFactory(eligible_kinds=[Organisation.Kind.UNIVERSITY])
    consumer("funds").apply(finished(startup.pk, device="gpu", cpu=0, wall=3600))
    assert not LedgerEntry.objects.filter(kind="subsidy").exists()


def test_parallel_charges_keep_every_balance_after_exact(transactional_db):
    organisation = OrganisationFactory()
    race(
        8,
        lambda i: gpu_job(organisation.pk, gpu_seconds=300),  # ¥1.00 each
    )
    entries = list(LedgerEntry.objects.filter(account__organisation=organisation).order_by("id"))
    assert [e.balance_after for e in entries] == [Decimal(-n) for n in range(1, 9)]
    assert CreditAccount.objects.get(organisation=organisation).balance == Decimal("-8")


def test_a_real_scoring_job_is_charged_to_the_teams_organisation(transactional_db, settings, tmp_path, startup):
    """competitions names the team's organisation, the scorer carries it into the result, funds charges it."""
    from competitions.services import submission_create
    from services.scorer.jobs import job_run
    from services.scorer.models import ScoringJob
    from tests.competitions.factories import PhaseFactory, TeamFactory
    from tests.competitions.support import predictions, published
    from tests.factories import UserFactory

    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    phase = PhaseFactory(accepted_kinds=["predictions"])
    entrant = UserFactory()
    team = TeamFactory(competition=phase.competition, members=[entrant], organisation=startup)
    submission = submission_create(phase=phase, team=team, upload=predictions(), kind="predictions", by=entrant)
    [received] = published("competitions.submission.received.v1")
    assert received["organisation_id"] == startup.pk
    job = ScoringJob.objects.create(submission_id=submission.pk, phase_id=phase.pk, queue="score-cpu", payload=received)
    assert job_run(job_id=str(job.pk), worker="test") == "finished"
    [body] = OutboxEvent.objects.filter(type="scoring.job.finished.v1").values_list("body", flat=True)
    assert json.loads(body)["data"]["organisation_id"] == startup.pk

    consumer("funds").apply(body)
    [usage] = LedgerEntry.objects.filter(account__organisation=startup)
    assert usage.kind == "usage" and str(usage.job_id) == str(job.pk)
    assert usage.details["submission_id"] == submission.pk and usage.details["cpu_seconds"] > 0
