"""Editors: moderation before publishing, mandatory metadata, scheduled publishing."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from wagtail.models import Workflow
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from hub.cms.models import PolicyDocumentPage
from hub.cms.tasks import publish_scheduled_pages
from tests.factories import UserFactory
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db


def policy_form(**overrides):
    data = {
        "title": "关于支持算力券的通知",
        "slug": "compute-voucher",
        "index_number": "",
        "category": "本级文件",
        "issuing_body": "宣城市科学技术局",
        "topic": "科技",
        "document_number": "",
        "written_date": "",
        "publish_date": "2026-11-27",
        "validity": "valid",
        "replaced_by": "",
        "keywords": "",
        "summary": "",
        "body": streamfield([("paragraph", rich_text("<p>正文</p>"))]),
        "attachments": streamfield([]),
        "action-publish": "publish",
    }
    return nested_form_data({**data, **overrides})


def test_a_policy_document_without_its_index_number_cannot_be_published(client):
    library = pages.policy_library(pages.home())
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.post(f"/cms/pages/add/cms/policydocumentpage/{library.pk}/", policy_form())
    assert response.status_code == 200
    assert "index_number" in response.context["form"].errors
    assert not PolicyDocumentPage.objects.filter(live=True).exists()

    client.post(f"/cms/pages/add/cms/policydocumentpage/{library.pk}/", policy_form(index_number="XC-2026-1"))
    assert PolicyDocumentPage.objects.get(index_number="XC-2026-1").live


def test_an_editor_submits_and_a_moderator_approves_before_the_public_sees_it(client):
    library = pages.policy_library(pages.home())
    doc = pages.policy_document(library, publish=False)
    editor = UserFactory(is_staff=True)
    editor.groups.add(Group.objects.get(name="Editors"))
    workflow = Workflow.objects.get(name="Moderators approval")
    assert doc.get_workflow() == workflow  # Wagtail's default workflow covers the whole tree

    workflow.start(doc, editor)
    assert client.get(doc.url).status_code == 404  # in moderation, not public
    moderator = UserFactory(is_superuser=True, is_staff=True)
    doc.current_workflow_task_state.approve(user=moderator)
    doc.refresh_from_db()
    assert doc.live and client.get(doc.url).status_code == 200


def test_a_scheduled_page_goes_live_when_beat_runs_the_task(client):
    library = pages.policy_library(pages.home())
    doc = pages.policy_document(library, publish=False)
    doc.go_live_at = timezone.now() + datetime.timedelta(minutes=5)
    doc.save_revision().publish()  # with a future go-live time this only schedules it
    doc.refresh_from_db()
    assert not doc.live
    PolicyDocumentPage.objects.filter(pk=doc.pk).update(go_live_at=timezone.now() - datetime.timedelta(seconds=1))
    doc.revisions.update(approved_go_live_at=timezone.now() - datetime.timedelta(seconds=1))
    publish_scheduled_pages()
    doc.refresh_from_db()
    assert doc.live
