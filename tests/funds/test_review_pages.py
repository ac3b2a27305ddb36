"""The reviewers' pages: their assignments, the application as a reviewer may see it (blind review hides
who applied), the weighted rubric, others' reviews only after one's own, and declaring a conflict; a 404
for anyone but an active, non-conflicted reviewer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from funds import services
from funds.models import Application, Conflict, Review
from tests.funds.factories import PoolReviewerFactory
from tests.funds.support import draft, full_scores, in_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(call, manager, other_manager, reviewers, applicant, startup) -> dict:
    """In review: reviewers 0 and 1 assigned, 2 assigned then conflicted."""
    application = in_review(draft(call, startup, applicant), applicant=applicant, manager=manager)
    for reviewer in reviewers:
        services.review_assign(application=application, reviewer=reviewer, by=manager)
    services.conflict_declare(by=reviewers[2], reason="曾任该公司顾问", application=application)
    return {
        "application": application,
        "assigned": reviewers[0],
        "second": reviewers[1],
        "conflicted": reviewers[2],
        "manager": manager,
        "other_manager": other_manager,
        "applicant": applicant,
    }


def url_of(application: Application) -> str:
    return reverse("funds_manage:review", kwargs={"application_id": application.pk})


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("assigned", 200),
        ("conflicted", 404),
        ("manager", 404),
        ("other_manager", 404),
        ("applicant", 404),
        ("unassigned", 404),
        ("anonymous", 302),
    ],
)
def test_the_review_page_is_for_active_non_conflicted_reviewers_only(client, setup, call, who, expected):
    people = {**setup, "unassigned": PoolReviewerFactory(call=call).reviewer, "anonymous": None}
    if people[who]:
        client.force_login(people[who])
    assert client.get(url_of(setup["application"])).status_code == expected
    response = client.post(url_of(setup["application"]), {"action": "review"})  # no scores: a form error at best
    assert response.status_code == (400 if expected == 200 else expected)
    if who == "anonymous":
        assert "/accounts/login/" in response["Location"]
    assert not Review.objects.exists()


def test_assignments_list_the_reviewers_own_and_not_the_conflicted(client, setup):
    client.force_login(setup["assigned"])
    mine = client.get(reverse("funds_manage:assignments"))
    client.force_login(setup["conflicted"])
    theirs = client.get(reverse("funds_manage:assignments"))

    assert [a.application_id for a in mine.context["page_obj"].object_list] == [setup["application"].pk]
    assert list(theirs.context["page_obj"].object_list) == []


@pytest.mark.parametrize("blind", [True, False])
def test_blind_review_hides_who_applied(client, setup, startup, blind):
    application = setup["application"]
    application.call.blind_review = blind
    application.call.save()
    client.force_login(setup["assigned"])

    page = client.get(url_of(application)).content.decode()

    assert (startup.name in page) is not blind
    assert application.title in page


def test_the_rubric_scores_and_totals_a_review(client, setup, call):
    innovation, feasibility = call.criteria.order_by("position")
    client.force_login(setup["assigned"])

    response = client.post(
        url_of(setup["application"]),
        {"action": "review", f"c{innovation.pk}": "8", f"c{feasibility.pk}": "4", "comment": "技术路线清晰。"},
    )

    assert response.status_code == 302
    review = Review.objects.get(assignment__reviewer=setup["assigned"])
    # 100 × (2 × 8/10 + 1 × 4/5) / 3
    assert (review.total, review.comment) == (Decimal("80.00"), "技术路线清晰。")


def test_a_score_off_the_rubric_is_a_field_error_and_nothing_is_stored(client, setup, call):
    innovation, feasibility = call.criteria.order_by("position")
    client.force_login(setup["assigned"])

    response = client.post(
        url_of(setup["application"]), {"action": "review", f"c{innovation.pk}": "11", f"c{feasibility.pk}": ""}
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {f"c{innovation.pk}", f"c{feasibility.pk}"}
    assert not Review.objects.exists()


def test_a_service_refusal_is_shown_on_the_rubric(client, setup, call, applicant):
    application = setup["application"]
    client.force_login(setup["assigned"])
    client.get(url_of(application))
    services.application_withdraw(application=application, by=applicant)  # while the reviewer is scoring
    innovation, feasibility = call.criteria.order_by("position")

    response = client.post(
        url_of(application), {"action": "review", f"c{innovation.pk}": "5", f"c{feasibility.pk}": "5"}
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["This application is not in review."]
    assert not Review.objects.exists()


def test_others_reviews_are_shown_only_after_ones_own(client, setup, call):
    application = setup["application"]
    other = application.assignments.get(reviewer=setup["second"])
    services.review_submit(assignment=other, by=setup["second"], scores=full_scores(call), comment="市场前景广阔。")
    client.force_login(setup["assigned"])

    before = client.get(url_of(application))
    innovation, feasibility = call.criteria.order_by("position")
    client.post(url_of(application), {"action": "review", f"c{innovation.pk}": "6", f"c{feasibility.pk}": "3"})
    after = client.get(url_of(application))

    assert "市场前景广阔。" not in before.content.decode() and before.context["others"] == []
    assert "市场前景广阔。" in after.content.decode()
    assert [r.comment for r in after.context["others"]] == ["市场前景广阔。"]


def test_declaring_a_conflict_takes_the_application_away(client, setup):
    application, reviewer = setup["application"], setup["assigned"]
    client.force_login(reviewer)

    missing = client.post(url_of(application), {"action": "conflict", "conflict-reason": ""})
    declared = client.post(url_of(application), {"action": "conflict", "conflict-reason": "与申请人有合作关系"})

    assert missing.status_code == 400 and "reason" in missing.context["conflict_form"].errors
    assert declared.status_code == 302 and declared["Location"].endswith(reverse("funds_manage:assignments"))
    assert Conflict.objects.get(reviewer=reviewer, application=application).reason == "与申请人有合作关系"
    assert client.get(url_of(application)).status_code == 404
