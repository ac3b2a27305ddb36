"""Review: automatic assignment balances load and respects conflicts and expertise; manual override;
conflicts revoke and hide; rubric totals; blind review; others' reviews only after one's own."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from funds import selectors, services
from funds.models import Application, Conflict, ReviewAssignment
from tests.factories import MembershipFactory, UserFactory
from tests.funds.factories import ApplicationFactory, PoolReviewerFactory
from tests.funds.support import draft, full_scores, in_review, published

pytestmark = pytest.mark.django_db

S = Application.Status


def reviewing(call, count: int, **kwargs) -> list[Application]:
    """`count` applications of different organisations, in review."""
    return [ApplicationFactory(call=call, status=S.IN_REVIEW, **kwargs) for _ in range(count)]


def test_automatic_assignment_balances_load_across_the_pool(call, manager):
    pool = [PoolReviewerFactory(call=call).reviewer for _ in range(4)]
    applications = reviewing(call, 6)

    result = services.review_assign_automatically(call=call, by=manager)

    assert len(result.assigned) == 12 and not result.short
    load = Counter(a.reviewer_id for a in result.assigned)
    assert sorted(load.values()) == [3, 3, 3, 3]
    assert set(load) == {r.pk for r in pool}
    for application in applications:
        reviewers = list(application.assignments.values_list("reviewer_id", flat=True))
        assert len(reviewers) == len(set(reviewers)) == 2
    assert len(published("funds.review.assigned.v1")) == 12
    # Run again: everyone already has their two reviewers; nothing changes.
    assert services.review_assign_automatically(call=call, by=manager).assigned == []


def test_automatic_assignment_counts_the_load_already_given(call, manager):
    busy, free = (PoolReviewerFactory(call=call).reviewer for _ in range(2))
    call.reviewers_per_application = 1
    call.save()
    [first, second, third] = reviewing(call, 3)
    services.review_assign(application=first, reviewer=busy, by=manager)
    services.review_assign(application=second, reviewer=busy, by=manager)
    result = services.review_assign_automatically(call=call, by=manager)
    assert [(a.application_id, a.reviewer_id) for a in result.assigned] == [(third.pk, free.pk)]


def test_automatic_assignment_never_picks_a_conflicted_reviewer(call, manager):
    clean, declared, recorded, member = (PoolReviewerFactory(call=call).reviewer for _ in range(4))
    [application] = reviewing(call, 1)
    call.reviewers_per_application = 4
    call.save()
    services.conflict_declare(by=declared, application=application, reason="曾为该公司顾问")
    services.conflict_record(by=manager, reviewer=recorded, organisation=application.organisation, reason="持有股份")
    MembershipFactory(user=member, organisation=application.organisation)  # works there: a plain conflict

    result = services.review_assign_automatically(call=call, by=manager)

    assert [a.reviewer_id for a in result.assigned] == [clean.pk]
    assert result.short == {application.pk: 3}


def test_automatic_assignment_matches_expertise_tags(call, manager):
    vision = PoolReviewerFactory(call=call, expertise=["工业视觉"]).reviewer
    language = PoolReviewerFactory(call=call, expertise=["大模型"]).reviewer
    call.reviewers_per_application = 1
    call.save()
    [tagged] = reviewing(call, 1, tags=["工业视觉", "质检"])
    result = services.review_assign_automatically(call=call, by=manager)
    assert [a.reviewer_id for a in result.assigned] == [vision.pk]
    [untagged] = reviewing(call, 1)
    result = services.review_assign_automatically(call=call, by=manager)
    assert [(a.application_id, a.reviewer_id) for a in result.assigned] == [(untagged.pk, language.pk)]
    assert tagged.assignments.count() == 1


def test_manual_assignment_overrides_load_but_never_a_conflict_or_the_pool(call, manager, reviewers):
    [application] = reviewing(call, 1)
    outsider = UserFactory()
    with pytest.raises(services.ReviewRefused) as refused:
        services.review_assign(application=application, reviewer=outsider, by=manager)
    assert refused.value.code == "not_in_pool"
    services.conflict_declare(by=reviewers[0], application=application, reason="亲属关系")
    with pytest.raises(services.ReviewRefused) as refused:
        services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    assert refused.value.code == "conflicted"
    assignment = services.review_assign(application=application, reviewer=reviewers[1], by=manager)
    assert assignment.manual
    with pytest.raises(services.ReviewRefused) as refused:
        services.review_assign(application=application, reviewer=reviewers[1], by=manager)
    assert refused.value.code == "already_assigned"


def test_a_conflict_declared_after_assignment_revokes_it_and_hides_the_application(call, manager, reviewers):
    [application] = reviewing(call, 1)
    assignment = services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    assert selectors.application_view(user=reviewers[0], application=application).id == application.pk

    services.conflict_declare(by=reviewers[0], organisation=application.organisation, reason="曾在该公司任职")

    assignment.refresh_from_db()
    assert assignment.revoked_at is not None and assignment.revoked_reason
    with pytest.raises(selectors.NotVisible):
        selectors.application_view(user=reviewers[0], application=application)
    with pytest.raises(services.NotPermitted):
        services.review_submit(assignment=assignment, by=reviewers[0], scores=full_scores(call))
    assert selectors.assignments_of(reviewer=reviewers[0]).count() == 0


def test_a_conflict_recorded_while_still_assigned_hides_the_application_at_once(call, manager, reviewers):
    """Even a conflict row written behind the services' back (no revocation) keeps the reviewer out."""
    [application] = reviewing(call, 1)
    services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    Conflict.objects.create(reviewer=reviewers[0], application=application, reason="x", recorded_by=manager)
    with pytest.raises(selectors.NotVisible):
        selectors.application_view(user=reviewers[0], application=application)


def test_the_weighted_total_follows_the_rubric(call, manager, reviewers):
    [application] = reviewing(call, 1)
    innovation, feasibility = call.criteria.order_by("position")
    assignment = services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    review = services.review_submit(
        assignment=assignment, by=reviewers[0], scores={innovation.pk: 8, feasibility.pk: 2}, comment=" 扎实 "
    )
    # (2 × 8/10 + 1 × 2/5) / 3 × 100 = 66.67
    assert review.total == Decimal("66.67")
    assert review.comment == "扎实"
    [event] = published("funds.review.submitted.v1")
    assert event["total"] == "66.67" and "comment" not in event


@pytest.mark.parametrize(
    "scores",
    [
        {"innovation": 11, "feasibility": 2},  # over the criterion's highest
        {"innovation": -1, "feasibility": 2},
        {"innovation": 5},  # a criterion left out
        {"innovation": 5, "feasibility": 2, "unknown": 1},
        {"innovation": "5", "feasibility": 2},
        {"innovation": 5.5, "feasibility": 2},
    ],
)
def test_scores_off_the_rubric_are_refused_and_nothing_is_stored(call, manager, reviewers, scores):
    [application] = reviewing(call, 1)
    innovation, feasibility = call.criteria.order_by("position")
    ids = {"innovation": innovation.pk, "feasibility": feasibility.pk, "unknown": 999999}
    assignment = services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    with pytest.raises(services.ReviewRefused) as refused:
        services.review_submit(assignment=assignment, by=reviewers[0], scores={ids[k]: v for k, v in scores.items()})
    assert refused.value.code == "invalid_scores" and refused.value.errors
    assert not hasattr(ReviewAssignment.objects.get(pk=assignment.pk), "review")


def test_one_review_per_assignment(call, manager, reviewers):
    [application] = reviewing(call, 1)
    assignment = services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    services.review_submit(assignment=assignment, by=reviewers[0], scores=full_scores(call))
    with pytest.raises(services.ReviewRefused) as refused:
        services.review_submit(assignment=assignment, by=reviewers[0], scores=full_scores(call, 1))
    assert refused.value.code == "already_reviewed"


def test_blind_review_hides_the_applicant_from_reviewers_only(call, manager, reviewers, startup, applicant):
    call.blind_review = True
    call.save()
    application = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    services.review_assign(application=application, reviewer=reviewers[0], by=manager)

    seen = selectors.application_view(user=reviewers[0], application=application)
    assert seen.blind
    assert (seen.organisation_id, seen.organisation_name, seen.created_by_id, seen.co_applicant_ids) == (
        None, None, None, [],
    )  # fmt: skip
    assert startup.name not in str(seen)
    assert seen.answers == application.answers and seen.title == application.title
    for insider in (manager, applicant):
        view = selectors.application_view(user=insider, application=application)
        assert not view.blind and view.organisation_name == startup.name
    call.blind_review = False
    call.save()
    application.refresh_from_db()
    assert selectors.application_view(user=reviewers[0], application=application).organisation_id == startup.pk


def test_a_reviewer_sees_the_others_reviews_only_after_submitting_their_own(call, manager, reviewers):
    [application] = reviewing(call, 1)
    first, second = (services.review_assign(application=application, reviewer=r, by=manager) for r in reviewers[:2])
    services.review_submit(assignment=first, by=reviewers[0], scores=full_scores(call, 8))

    assert selectors.reviews_visible(user=reviewers[1], application=application) == []
    assert len(selectors.reviews_visible(user=reviewers[0], application=application)) == 1
    services.review_submit(assignment=second, by=reviewers[1], scores=full_scores(call, 2))
    assert len(selectors.reviews_visible(user=reviewers[1], application=application)) == 2
    assert len(selectors.reviews_visible(user=manager, application=application)) == 2
    summary = selectors.score_summary(application=application)
    assert summary.count == 2 and summary.mean is not None and summary.spread > 0


def test_a_revoked_assignment_s_review_no_longer_counts(call, manager, reviewers):
    [application] = reviewing(call, 1)
    first, second = (services.review_assign(application=application, reviewer=r, by=manager) for r in reviewers[:2])
    services.review_submit(assignment=first, by=reviewers[0], scores=full_scores(call, 10))
    services.review_submit(assignment=second, by=reviewers[1], scores=full_scores(call, 0))
    services.review_unassign(assignment=second, by=manager, reason="评审意见明显敷衍")
    assert selectors.score_summary(application=application).count == 1
    assert selectors.score_summary(application=application).mean == Decimal("100.00")
    assert application.trail.filter(action="unassign").get().reason == "评审意见明显敷衍"
    # The managers' trail has it; the applicant's does not.
    assert [e.action for e in selectors.application_trail(user=manager, application=application)] == ["unassign"]
    applicant = application.created_by
    assert not selectors.application_trail(user=applicant, application=application).exists()


def test_the_review_closes_only_when_every_assigned_reviewer_has_reviewed(call, manager, reviewers):
    [application] = reviewing(call, 1)
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_close_review(application=application, by=manager)
    assert refused.value.code == "reviews_missing"
    first, _second = (services.review_assign(application=application, reviewer=r, by=manager) for r in reviewers[:2])
    services.review_submit(assignment=first, by=reviewers[0], scores=full_scores(call))
    with pytest.raises(services.ApplicationRefused):
        services.application_close_review(application=application, by=manager)
    services.review_unassign(assignment=_second, by=manager, reason="出差无法评审")
    assert services.application_close_review(application=application, by=manager).status == S.DECISION_PENDING


def test_an_organisation_conflict_needs_a_fund_manager_to_record_it(call, reviewers, startup):
    with pytest.raises(services.NotPermitted):
        services.conflict_record(by=UserFactory(), reviewer=reviewers[0], organisation=startup, reason="x")
    assert not Conflict.objects.exists()


def test_a_manager_with_a_conflict_does_not_manage_that_application(call, manager, startup, applicant):
    MembershipFactory(user=manager, organisation=startup)  # the manager also works at the applicant
    application = draft(call, startup, applicant)
    services.application_submit(application=application, by=applicant)
    with pytest.raises(services.NotPermitted):
        services.application_screen(application=application, by=manager)
    with pytest.raises(selectors.NotVisible):
        selectors.application_trail(user=manager, application=application)
    colleague = UserFactory()
    call.fund.managers.add(colleague)
    assert services.application_screen(application=application, by=colleague).status == S.SCREENING


def test_the_managers_queue_summarises_reviews_in_one_query(
    call, manager, reviewers, other_manager, applicant, django_assert_num_queries
):
    first, second = reviewing(call, 2)
    ApplicationFactory(call=call)  # a draft: the applicant's own, not in the queue
    for application, values in ((first, (10, 0)), (second, (6, 6))):
        for reviewer, value in zip(reviewers[:2], values, strict=True):
            assignment = services.review_assign(application=application, reviewer=reviewer, by=manager)
            services.review_submit(assignment=assignment, by=reviewer, scores=full_scores(call, value))
    services.review_unassign(assignment=second.assignments.first(), by=manager, reason="换人")

    with django_assert_num_queries(2):  # the manager check and the queue itself
        rows = list(selectors.application_queue(user=manager, call=call))
    assert [row.pk for row in rows] == [first.pk, second.pk]
    assert [(row.reviewers, row.reviews) for row in rows] == [(2, 2), (1, 1)]
    assert rows[0].score_mean == Decimal("50") and rows[0].score_spread == Decimal("50")
    assert rows[1].score_spread == 0
    assert [row.pk for row in selectors.application_queue(user=manager, call=call, status=S.DECISION_PENDING)] == []
    for outsider in (other_manager, applicant, reviewers[0]):
        with pytest.raises(selectors.NotVisible):
            selectors.application_queue(user=outsider, call=call)


def test_an_applicant_lists_what_they_started_or_joined(call, startup, applicant, co_applicant):
    mine = draft(call, startup, applicant, co_applicants=[co_applicant])
    ApplicationFactory(call=call)
    assert list(selectors.applications_of(user=applicant)) == [mine]
    assert list(selectors.applications_of(user=co_applicant)) == [mine]
