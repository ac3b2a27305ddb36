"""Organisation profiles: who may change them, how capabilities are read and checked, the event, the pages."""

import json

import pytest

from hub.accounts import demo
from hub.accounts.models import Organisation, Role, User, capabilities_from
from hub.accounts.services import NotPermitted, ProfileRefused, organisation_create, organisation_update_profile
from hub.events.models import OutboxEvent
from hub.events.registry import validate
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

UPDATED = "accounts.organisation.updated.v1"


def published(type_name: str) -> list[dict]:
    bodies = OutboxEvent.objects.filter(type=type_name).order_by("id").values_list("body", flat=True)
    return [json.loads(body)["data"] for body in bodies]


@pytest.fixture
def startup() -> Organisation:
    return organisation_create(name="星火智能科技", name_en="Spark AI", kind="startup", region="合肥市")


@pytest.fixture
def admin(startup):
    return MembershipFactory(organisation=startup, role=Role.ADMIN).user


def test_an_administrator_changes_the_profile_and_it_is_published_whole_as_version_2(startup, admin):
    organisation = organisation_update_profile(
        organisation=startup,
        by=admin,
        fields={
            "description": "  医学影像辅助诊断。 ",
            "description_en": "Medical imaging.",
            "capabilities": "医学影像， 大模型、工业视觉;医学影像 ,  边缘  部署,,",
            "sectors": ["healthcare", "industrial-internet", "healthcare"],
        },
    )
    assert organisation.profile_version == 2
    assert organisation.capabilities == ["医学影像", "大模型", "工业视觉", "边缘 部署"]
    (event,) = published(UPDATED)
    validate(UPDATED, event)
    assert event == {
        "organisation_id": startup.pk,
        "version": 2,
        "name": "星火智能科技",
        "name_en": "Spark AI",
        "kind": "startup",
        "region": "合肥市",
        "description": "医学影像辅助诊断。",
        "description_en": "Medical imaging.",
        "capabilities": ["医学影像", "大模型", "工业视觉", "边缘 部署"],
        "sectors": ["healthcare", "industrial-internet"],
    }
    # The creation stays version 1 of the same document, in its own unchanged shape.
    (created,) = published("accounts.organisation.created.v1")
    assert created == {"organisation_id": startup.pk, "name": "星火智能科技", "kind": "startup", "region": "合肥市"}


def test_saving_the_same_profile_again_is_not_a_new_version(startup, admin):
    fields = {"capabilities": ["大模型"], "sectors": ["education"]}
    organisation_update_profile(organisation=startup, by=admin, fields=fields)
    again = organisation_update_profile(organisation=startup, by=admin, fields={**fields, "capabilities": " 大模型 "})
    assert again.profile_version == 2 and len(published(UPDATED)) == 1
    third = organisation_update_profile(organisation=startup, by=admin, fields={"region": "芜湖市"})
    assert third.profile_version == 3 and [e["version"] for e in published(UPDATED)] == [2, 3]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"capabilities": [f"能力{n}" for n in range(21)]}, "capabilities", "At most 20"),
        ({"capabilities": ["大模型", "很" * 31]}, "capabilities", "30 characters or fewer"),
        ({"sectors": ["healthcare", "space-travel"]}, "sectors", "space-travel"),
        ({"name": "  "}, "name", "cannot be blank"),
        ({"website": "not a url"}, "website", "valid URL"),
    ],
)
def test_an_invalid_profile_is_refused_by_field_and_nothing_changes(startup, admin, fields, field, message):
    with pytest.raises(ProfileRefused) as refused:
        organisation_update_profile(organisation=startup, by=admin, fields=fields)
    assert message in " ".join(refused.value.errors[field])
    startup.refresh_from_db()
    assert startup.profile_version == 1 and startup.capabilities == [] and not published(UPDATED)


def test_exactly_twenty_tags_of_thirty_characters_are_accepted(startup, admin):
    tags = [f"{n:02d}" + "长" * 28 for n in range(20)]
    assert (
        organisation_update_profile(organisation=startup, by=admin, fields={"capabilities": tags}).capabilities == tags
    )


def test_only_administrators_of_that_organisation_and_staff_may_change_a_profile(startup):
    member = MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user
    admin_elsewhere = MembershipFactory(organisation=OrganisationFactory(), role=Role.ADMIN).user
    for user in (member, admin_elsewhere, UserFactory()):
        with pytest.raises(NotPermitted):
            organisation_update_profile(organisation=startup, by=user, fields={"description": "改"})
    staff = UserFactory(is_staff=True)
    assert (
        organisation_update_profile(organisation=startup, by=staff, fields={"description": "改"}).profile_version == 2
    )
    with pytest.raises(TypeError, match="kind"):
        organisation_update_profile(organisation=startup, by=staff, fields={"kind": "fund"})


def test_capabilities_are_read_from_any_separator_trimmed_and_once():
    assert capabilities_from("a, b，c、d;e；f\ng , A ,") == ["a", "b", "c", "d", "e", "f", "g"]
    assert capabilities_from(["  x ", "", "X", "y"]) == ["x", "y"]


# --- pages ------------------------------------------------------------------------------------
def profile_url(organisation: Organisation, *, edit: bool = False, prefix: str = "") -> str:
    return f"{prefix}/accounts/organisations/{organisation.pk}/{'edit/' if edit else ''}"


def test_anyone_reads_a_startups_profile_in_their_language(client, startup, admin):
    organisation_update_profile(
        organisation=startup,
        by=admin,
        fields={
            "description": "专注医学影像。",
            "description_en": "Medical imaging first.",
            "capabilities": "医学影像，大模型",
            "sectors": ["healthcare"],
        },
    )
    page = client.get(profile_url(startup)).content.decode()
    assert all(text in page for text in ("星火智能科技", "合肥市", "专注医学影像。", "医学影像", "大模型"))
    assert "/edit/" not in page  # not for anonymous readers
    english = client.get(profile_url(startup, prefix="/en")).content.decode()
    assert "Medical imaging first." in english and "Healthcare" in english and 'lang="en"' in english
    assert client.get("/accounts/organisations/999999/").status_code == 404


def test_the_edit_page_is_for_administrators_only(client, startup):
    assert client.get(profile_url(startup, edit=True)).status_code == 302  # to sign in
    client.force_login(MembershipFactory(organisation=startup, role=Role.STARTUP_MEMBER).user)
    assert client.get(profile_url(startup, edit=True)).status_code == 403


def test_the_edit_form_shows_errors_in_a_summary_and_saves_a_valid_profile(client, startup, admin):
    client.force_login(admin)
    form = client.get(profile_url(startup, edit=True)).content.decode()
    assert 'name="capabilities"' in form and 'type="checkbox"' in form and 'name="sectors"' in form
    data = {
        "name": "星火智能科技",
        "name_en": "Spark AI",
        "capabilities": "大模型，" + "很" * 31,
        "sectors": ["robotics"],
    }
    response = client.post(profile_url(startup, edit=True), data)
    page = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in page and 'href="#id_capabilities"' in page
    assert 'aria-invalid="true"' in page
    data["capabilities"] = "大模型，机器人"
    response = client.post(profile_url(startup, edit=True), data)
    assert response.status_code == 302 and response["Location"] == profile_url(startup)
    startup.refresh_from_db()
    assert startup.capabilities == ["大模型", "机器人"] and startup.sectors == ["robotics"]
    assert startup.profile_version == 2


def test_the_demo_startup_describes_itself_once(settings):
    list(demo.load())
    list(demo.load())
    startup = Organisation.objects.get(name="星火智能科技（合肥）有限公司")
    assert {"医学影像", "大模型", "工业视觉", "边缘部署"} <= set(startup.capabilities)
    assert "healthcare" in startup.sectors and startup.description and startup.profile_version == 2
    assert [event["organisation_id"] for event in published(UPDATED)] == [startup.pk]


def test_a_profile_changed_in_the_django_admin_is_a_new_published_version(client, startup):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/django-admin/accounts/organisation/{startup.pk}/change/"
    data = {
        "name": startup.name,
        "name_en": "Spark AI",
        "kind": "startup",
        "region": "合肥市",
        "website": "",
        "description": "工业视觉质检。",
        "description_en": "",
        "capabilities": "工业视觉,缺陷检测",
        "sectors": "manufacturing-optimisation",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    startup.refresh_from_db()
    assert startup.profile_version == 2 and startup.capabilities == ["工业视觉", "缺陷检测"]
    (event,) = published(UPDATED)
    assert event["description"] == "工业视觉质检。" and event["sectors"] == ["manufacturing-optimisation"]


def test_every_demo_user_signs_in_with_the_demo_password(db):
    list(demo.load())
    users = User.objects.filter(email__endswith="@wanzhi.local")
    assert users.count() > 1
    assert all(user.check_password(demo.demo_password()) for user in users)
    assert User.objects.get(username="admin").is_superuser
