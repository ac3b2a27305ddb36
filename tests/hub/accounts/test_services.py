import json

import pytest
from django.core.exceptions import ValidationError

from hub.accounts.models import Membership, Role
from hub.accounts.services import MembershipRefused, membership_grant, organisation_create, user_register
from hub.events.models import OutboxEvent
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


def published(type_name: str) -> list[dict]:
    return [
        json.loads(body)["data"] for body in OutboxEvent.objects.filter(type=type_name).values_list("body", flat=True)
    ]


def test_registering_a_user_announces_them_to_be_welcomed():
    user = user_register(username="hanmeimei", email="hmm@example.cn", password="Xq7!long-pass", display_name="韩梅梅")
    assert user.check_password("Xq7!long-pass")
    assert published("accounts.user.registered.v1") == [
        {"user_id": user.pk, "username": "hanmeimei", "recipients": [user.pk]}
    ]


def test_a_taken_username_is_refused_and_nothing_is_published():
    UserFactory(username="lilei")
    with pytest.raises(ValidationError, match="already exists"):
        user_register(username="lilei", email="other@example.cn", password=None)
    assert not OutboxEvent.objects.exists()


def test_an_organisation_of_an_unknown_kind_is_refused():
    with pytest.raises(ValidationError, match="kind"):
        organisation_create(name="某机构", kind="guild")
    organisation = organisation_create(name="皖江孵化器", kind="incubator", region="芜湖市")
    assert published("accounts.organisation.created.v1") == [
        {"organisation_id": organisation.pk, "name": "皖江孵化器", "kind": "incubator", "region": "芜湖市"}
    ]


def test_a_role_is_granted_once_and_tells_the_member():
    user, organisation = UserFactory(), OrganisationFactory()
    membership_grant(user=user, organisation=organisation, role=Role.REVIEWER)
    with pytest.raises(MembershipRefused, match="already holds"):
        membership_grant(user=user, organisation=organisation, role=Role.REVIEWER)
    with pytest.raises(MembershipRefused, match="unknown role"):
        membership_grant(user=user, organisation=organisation, role="king")
    assert Membership.objects.filter(user=user).count() == 1
    (event,) = published("accounts.membership.granted.v1")
    assert event["recipients"] == [user.pk] and event["role"] == "reviewer"
