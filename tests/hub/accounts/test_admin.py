import json

import pytest

from hub.accounts.models import Membership
from hub.events.models import OutboxEvent
from tests.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_role_granted_in_the_django_admin_is_announced_like_any_other(client):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    member, organisation = UserFactory(username="zhaolei"), OrganisationFactory()
    client.force_login(admin_user)
    page = client.get(f"/django-admin/accounts/user/{member.pk}/change/")
    data = {key: value for key, value in page.context["adminform"].form.initial.items() if value is not None}
    data.update(
        {
            "username": "zhaolei",
            "language": "zh-hans",
            "date_joined_0": "2026-11-27",
            "date_joined_1": "10:00:00",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-organisation": organisation.pk,
            "memberships-0-role": "reviewer",
        }
    )
    data.pop("password", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    response = client.post(f"/django-admin/accounts/user/{member.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    membership = Membership.objects.get(user=member)
    assert (membership.role, membership.granted_by) == ("reviewer", admin_user)
    (body,) = OutboxEvent.objects.filter(type="accounts.membership.granted.v1").values_list("body", flat=True)
    assert json.loads(body)["data"]["recipients"] == [member.pk]
