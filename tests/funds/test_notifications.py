"""Funds notifications: the applicants, the assigned reviewers and the fund's managers hear of what
concerns them (in-app, and by e-mail if they want it), each once, in their own language; the actor hears
nothing of their own act, and a blind call's reviewer never learns who applied."""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import translation

from funds import services
from funds.models import Application, Call
from hub.accounts.models import Organisation, Role, User
from hub.events.models import OutboxEvent
from hub.events.registry import decode
from hub.notifications.kinds import KINDS
from hub.notifications.models import EmailDelivery, Notification
from hub.notifications.services import email_preferences_set
from services.relay.relay import Relay
from tests.factories import MembershipFactory, UserFactory
from tests.funds.support import draft, full_scores, in_review, published, two_tranches
from tests.support import consumer, wait_for

S = Application.Status


def notify_all() -> None:
    """Apply every funds event in the outbox through the notifier, as its consumer would (at most once)."""
    notifier = consumer("notifier")
    for body in OutboxEvent.objects.filter(type__startswith="funds.").order_by("id").values_list("body", flat=True):
        notifier.apply(body)


def told(kind: str) -> Counter[int]:
    """How many notifications of `kind` each user got."""
    return Counter(Notification.objects.filter(kind=kind).values_list("user_id", flat=True))


def speak(user: User, language: str) -> User:
    user.language = language
    user.save(update_fields=["language"])
    return user


def prefix(user: User) -> str:
    """The path prefix of the user's language (Chinese at the root)."""
    return "/en" if user.language == "en" else ""


@pytest.fixture
def people(applicant, co_applicant, manager, reviewers, other_manager) -> dict[str, User]:
    """The applicant reads Chinese, the co-applicant English; the manager English; the first reviewer
    English, the second Chinese; the third reviewer of the pool is never assigned."""
    speak(co_applicant, "en")
    speak(manager, "en")
    speak(reviewers[0], "en")
    return {
        "applicant": applicant,
        "co_applicant": co_applicant,
        "manager": manager,
        "reviewer": reviewers[0],
        "second_reviewer": reviewers[1],
        "idle_reviewer": reviewers[2],
        "other_manager": other_manager,
        "stranger": UserFactory(),
    }


@pytest.mark.django_db
def test_the_whole_road_tells_each_person_what_concerns_them_once_in_their_language(
    call: Call, startup: Organisation, people: dict[str, User]
):
    applicant, co_applicant, manager = people["applicant"], people["co_applicant"], people["manager"]
    reviewer, second = people["reviewer"], people["second_reviewer"]
    application = draft(call, startup, applicant, co_applicants=[co_applicant])
    pk = application.pk
    services.application_submit(application=application, by=applicant)
    services.application_screen(application=application, by=manager)
    services.application_request_information(application=application, by=manager, reason="请补充近两年财务报表")
    services.application_answer(application=application, by=co_applicant)
    services.application_start_review(application=application, by=manager)
    assignments = [
        services.review_assign(application=application, reviewer=user, by=manager) for user in (reviewer, second)
    ]
    for assignment in assignments:
        services.review_submit(assignment=assignment, by=assignment.reviewer, scores=full_scores(call))
    services.application_close_review(application=application, by=manager)
    application = services.application_approve(
        application=application, by=manager, amount="400000", reason="技术路线清晰，建议资助"
    )
    services.tranches_plan(application=application, by=manager, tranches=two_tranches(application))
    services.application_sign_agreement(application=application, by=manager)
    for tranche in application.tranches.order_by("position"):
        if tranche.position == 1:  # returned once, then accepted
            report = services.milestone_report_submit(tranche=tranche, by=applicant, text="初稿")
            services.milestone_report_review(report=report, by=manager, accept=False, comment="请补充测试报告")
        report = services.milestone_report_submit(tranche=tranche, by=applicant, text="里程碑已完成")
        services.milestone_report_review(report=report, by=manager, accept=True)
        services.tranche_pay(tranche=tranche, by=manager, reference=f"HF-{tranche.position}")
    services.application_close(application=application, by=manager)
    notify_all()

    a, c, m = applicant.pk, co_applicant.pk, manager.pk
    assert told("funds.application.submitted") == {c: 1, m: 1}  # not the applicant, who submitted
    assert told("funds.application.more_information_requested") == {a: 1, c: 1}
    assert told("funds.application.information_provided") == {m: 1}
    assert told("funds.review.assigned") == {reviewer.pk: 1, second.pk: 1}
    assert told("funds.review.submitted") == {m: 2}
    assert told("funds.application.decided") == {a: 1, c: 1}
    assert told("funds.application.agreement_signed") == {a: 1, c: 1}
    assert told("funds.tranche.paid") == {a: 2, c: 2}
    assert told("funds.milestone.reported") == {m: 3}
    assert told("funds.milestone.reviewed") == {a: 3, c: 3}
    assert told("funds.application.closed") == {a: 1, c: 1}
    nobody = [people[name] for name in ("idle_reviewer", "other_manager", "stranger")]
    assert not Notification.objects.filter(user__in=nobody).exists()
    # Steps that concern nobody tell nobody.
    for kind in ("screened", "review_started", "review_closed", "disbursing_started"):
        assert not Notification.objects.filter(kind=f"funds.application.{kind}").exists()

    def one(kind: str, user: User) -> Notification:
        return Notification.objects.get(kind=kind, user=user)

    # Each opens their own page, under their language, and the e-mail links to the same page.
    receipt = one("funds.application.submitted", co_applicant)
    assert receipt.url == f"/en/funds/applications/{pk}/"
    assert receipt.title == f"Your application “{application.title}” is submitted"
    new = one("funds.application.submitted", manager)
    assert new.url == f"/en/funds/manage/applications/{pk}/"
    assert new.title == f"New application to “{call.title}”: “{application.title}”"
    assert f"{settings.SITE_URL}{new.url}" in new.body
    for user in (applicant, co_applicant):
        question = one("funds.application.more_information_requested", user)
        assert question.url == f"{prefix(user)}/funds/applications/{pk}/"
        assert "请补充近两年财务报表" in question.body
        decided = one("funds.application.decided", user)
        assert decided.url == f"{prefix(user)}/funds/applications/{pk}/"
        assert "技术路线清晰，建议资助" in decided.body and "400000.00" in decided.body
    assert one("funds.application.decided", co_applicant).title == f"Your application “{application.title}” is approved"
    assert one("funds.review.assigned", reviewer).url == f"/en/funds/manage/reviews/{pk}/"
    assert one("funds.review.assigned", second).url == f"/funds/manage/reviews/{pk}/"
    first_review, last_review = Notification.objects.filter(kind="funds.review.submitted").order_by("id")
    assert first_review.title.endswith("(1 of 2)") and "1 of 2 reviews are in" in first_review.body
    assert last_review.title == f"All reviews of “{application.title}” are in"
    assert "the review can be closed" in last_review.body
    paid = Notification.objects.filter(kind="funds.tranche.paid", user=co_applicant).order_by("id")
    assert [n.title for n in paid] == [f"Tranche {i} of “{application.title}” is paid" for i in (1, 2)]
    assert "HF-2" in paid[1].body
    returned, *accepted = Notification.objects.filter(kind="funds.milestone.reviewed", user=co_applicant).order_by("id")
    assert returned.title == f"Your milestone report on “{application.title}” was returned (tranche 1)"
    assert "请补充测试报告" in returned.body and returned.url == f"/en/funds/applications/{pk}/"
    assert [n.title.split(" is ")[-1] for n in accepted] == ["accepted (tranche 1)", "accepted (tranche 2)"]
    reported = Notification.objects.filter(kind="funds.milestone.reported", user=manager).order_by("id").first()
    assert reported.url == f"/en/funds/manage/applications/{pk}/" and "Accept the report" in reported.body

    # Everyone with an e-mail address and no preference against it gets each by e-mail too.
    assert EmailDelivery.objects.count() == Notification.objects.count()
    assert set(EmailDelivery.objects.values_list("to", flat=True)) == {
        user.email for user in (applicant, co_applicant, manager, reviewer, second)
    }


@pytest.mark.django_db
def test_one_event_reads_in_each_recipients_language():
    """The same event rendered for a zh-hans reader and an en reader: each gets the catalogue's text in
    their language and the page under their prefix."""
    data = {
        "application_id": 9,
        "call_id": 2,
        "fund_id": 3,
        "organisation_id": 4,
        "from_status": "screening",
        "to_status": "more_information",
        "at": "2026-12-01T10:00:00+08:00",
        "title": "工业视觉质检大模型",
        "call_title": "2026年度通用人工智能创业项目征集",
        "url": "/funds/applications/9/",
        "manage_url": "/funds/manage/applications/9/",
        "recipients": [1],
        "question": "请补充财务报表",
    }
    kind = KINDS["funds.application.more_information_requested.v1"]
    event = decode(kind.event_type, data)
    for language, path in (("zh-hans", "/funds/applications/9/"), ("en", "/en/funds/applications/9/")):
        with translation.override(language):
            message = kind.message(event, 1)
            expected_title = translation.gettext("More information is asked for “%(title)s”") % data
        assert (message.title, message.url) == (expected_title, path)
        assert f"{settings.SITE_URL}{path}" in message.body and "请补充财务报表" in message.body


@pytest.mark.django_db
def test_a_blind_calls_reviewer_never_reads_who_applied(call, startup, applicant, manager, reviewers):
    Call.objects.filter(pk=call.pk).update(blind_review=True)
    application = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    services.review_assign_automatically(call=call, by=manager)
    notify_all()
    messages = list(Notification.objects.filter(kind="funds.review.assigned"))
    assert len(messages) == 2 and {n.user_id for n in messages} < {r.pk for r in reviewers}
    identity = (startup.name, applicant.username, applicant.display_name, applicant.email)
    events = published("funds.review.assigned.v1")
    for text in [str(events)] + [f"{n.title} {n.body} {n.url}" for n in messages]:
        assert not any(name in text for name in identity), text
    assert application.title in messages[0].title  # the title is what a blind reviewer reads too


@pytest.mark.django_db
def test_a_withdrawal_tells_the_managers_and_not_the_applicant(call, startup, applicant, co_applicant, manager):
    application = draft(call, startup, applicant, co_applicants=[co_applicant])
    services.application_submit(application=application, by=co_applicant)
    services.application_withdraw(application=application, by=applicant, reason="项目方向调整")
    notify_all()
    assert told("funds.application.withdrawn") == {manager.pk: 1}
    # The co-applicant submitted: the applicant got the receipt and the manager the new application.
    assert told("funds.application.submitted") == {applicant.pk: 1, manager.pk: 1}
    withdrawn = Notification.objects.get(kind="funds.application.withdrawn")
    assert withdrawn.url == f"/funds/manage/applications/{application.pk}/"  # the manager reads Chinese


@pytest.mark.django_db
def test_a_rejection_in_screening_gives_the_applicants_the_reason(call, startup, applicant, co_applicant, manager):
    speak(co_applicant, "en")
    application = draft(call, startup, applicant, co_applicants=[co_applicant])
    services.application_submit(application=application, by=applicant)
    services.application_screen(application=application, by=manager)
    services.application_reject(application=application, by=manager, reason="不属于本次征集的支持方向")
    notify_all()
    assert told("funds.application.decided") == {applicant.pk: 1, co_applicant.pk: 1}
    rejected = Notification.objects.get(kind="funds.application.decided", user=co_applicant)
    assert rejected.title == f"Your application “{application.title}” was not approved"
    assert "不属于本次征集的支持方向" in rejected.body and "approved:" not in rejected.body


@pytest.mark.django_db
def test_managers_with_a_conflict_and_managers_by_role_are_told_as_the_fund_decides(
    call, startup, applicant, manager, fund
):
    """Managers are the fund's listed managers and the fund managers of its managing organisation, less
    any who belong to the applicant organisation (they do not manage this application)."""
    by_role = MembershipFactory(organisation=fund.managing_organisation, role=Role.FUND_MANAGER).user
    conflicted = MembershipFactory(organisation=startup).user
    fund.managers.add(conflicted)
    services.application_submit(application=draft(call, startup, applicant), by=applicant)
    notify_all()
    assert told("funds.application.submitted") == {manager.pk: 1, by_role.pk: 1}


@pytest.mark.django_db
def test_no_email_for_a_kind_the_user_turned_off(call, startup, applicant, co_applicant, manager):
    email_preferences_set(user=manager, choices={"funds.application.submitted": False})
    services.application_submit(application=draft(call, startup, applicant, co_applicants=[co_applicant]), by=applicant)
    notify_all()
    assert told("funds.application.submitted") == {manager.pk: 1, co_applicant.pk: 1}
    assert list(EmailDelivery.objects.values_list("to", flat=True)) == [co_applicant.email]


def test_a_submission_reaches_the_managers_through_kafka_and_the_notifier_process(
    start_process, run_in_thread, call, startup, applicant, co_applicant, manager
):
    """The real path: the service's transaction writes the outbox, the relay sends it to Kafka, the
    notifier process (`run_service notifier`) tells the people."""
    application = draft(call, startup, applicant, co_applicants=[co_applicant])
    with transaction.atomic():
        services.application_submit(application=application, by=applicant)
    run_in_thread(Relay().run)
    start_process("run_service", "notifier")
    wait_for(lambda: Notification.objects.filter(kind="funds.application.submitted").count() == 2, timeout=90)
    assert told("funds.application.submitted") == {manager.pk: 1, co_applicant.pk: 1}
    assert Notification.objects.get(user=manager).url == f"/funds/manage/applications/{application.pk}/"
