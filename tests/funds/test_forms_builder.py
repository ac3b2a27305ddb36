"""The form builder: field blocks become frozen versions on publishing, and answers_validate checks
answers against a version (required where shown, types, ranges, tables, files, unknown keys)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from wagtail.blocks import StreamBlockValidationError

from funds import services
from funds.forms_builder import AnswersInvalid, FormFieldsBlock, answers_validate, steps
from funds.models import Application, ApplicationForm, Attachment, Call, FormVersion
from funds.selectors import application_view
from tests.factories import UserFactory
from tests.funds.support import draft, in_review

S = Application.Status


def q(kind: str, name: str, label: str, **extra) -> tuple[str, dict]:
    return kind, {"name": name, "label": label, "required": True, **extra}


BASIC = [
    ("section", {"title": "项目", "title_en": "Project"}),
    q("short_text", "summary", "项目简介", max_length=50),
    q("number", "staff", "团队人数", min_value="1", max_value="500"),
    q("choice", "stage", "阶段", choices=[{"value": "idea", "label": "想法"}, {"value": "product", "label": "产品"}]),
    q("long_text", "customers", "已有客户", show_if_field="stage", show_if_value="product"),
    ("section", {"title": "预算", "title_en": "Budget"}),
    q(
        "table",
        "budget",
        "预算表",
        rows=3,
        columns=[{"name": "item", "label": "科目"}, {"name": "amount", "label": "金额", "numeric": True}],
    ),
    q("money", "own_funds", "自筹资金", required=False),
    q("date", "start", "开始日期", required=False),
    q(
        "multi_choice",
        "areas",
        "领域",
        required=False,
        choices=[{"value": "cv", "label": "视觉"}, {"value": "nlp", "label": "语言"}],
    ),
    q("file", "plan", "商业计划书", file_types=".pdf,.docx", max_size_mb=1),
    q("declaration", "truthful", "所填信息真实"),
]

COMPLETE = {
    "summary": "视觉质检",
    "staff": "12",
    "stage": "idea",
    "budget": {"rows": [{"item": "算力", "amount": "100000"}, {"item": "人员", "amount": "50000.50"}]},
    "truthful": "on",
}


def published_form(stream: list, name: str = "2026年度申请表") -> ApplicationForm:
    """Saved and published the way the Wagtail admin does it (a revision, then publish)."""
    form = ApplicationForm(name=name, fields=stream, live=False)
    form.save()
    form.save_revision().publish()
    return form


def republish(form: ApplicationForm, stream: list) -> None:
    form.fields = stream
    form.save_revision().publish()


def pdf(size: int = 100, name: str = "plan.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 " + b"x" * size, content_type="application/pdf")


@pytest.fixture
def form(db) -> ApplicationForm:
    return published_form(BASIC)


@pytest.fixture
def version(form) -> FormVersion:
    return form.versions.get()


@pytest.fixture
def form_call(call: Call, form: ApplicationForm) -> Call:
    Call.objects.filter(pk=call.pk).update(form=form, form_version=1)
    call.refresh_from_db()
    return call


def errors_of(version: FormVersion, answers: dict, files: dict | None = None, **kwargs) -> dict:
    with pytest.raises(AnswersInvalid) as invalid:
        answers_validate(version.fields, answers, files or {}, **kwargs)
    return invalid.value.errors


# --- versions --------------------------------------------------------------------------------------
def test_publishing_freezes_a_version_and_drafts_of_the_form_do_not(form, version):
    assert (version.number, [f["type"] for f in version.fields][:3]) == (1, ["section", "short_text", "number"])
    assert version.fields[4]["show_if"] == {"field": "stage", "value": "product"}
    assert version.fields[10]["file_types"] == [".docx", ".pdf"]
    form.fields = BASIC[:3]
    form.save_revision()  # a draft edit: no new version
    assert form.versions.count() == 1
    form.save_revision().publish()
    assert list(form.versions.values_list("number", flat=True)) == [1, 2]


def test_the_form_is_cut_into_steps_at_its_section_breaks(version):
    assert [(step.title_en, [f["name"] for f in step.fields]) for step in steps(version.fields)] == [
        ("Project", ["summary", "staff", "stage", "customers"]),
        ("Budget", ["budget", "own_funds", "start", "areas", "plan", "truthful"]),
    ]


def test_a_form_with_a_name_twice_or_a_show_if_on_a_later_question_is_refused():
    block = FormFieldsBlock()
    twice = block.to_python([{"type": t, "value": v} for t, v in [BASIC[1], BASIC[1]]])
    with pytest.raises(StreamBlockValidationError):
        block.clean(twice)
    later = block.to_python([{"type": t, "value": v} for t, v in [BASIC[4], BASIC[3]]])
    with pytest.raises(StreamBlockValidationError):
        block.clean(later)


# --- answers ---------------------------------------------------------------------------------------
def test_complete_answers_are_cleaned_and_table_totals_computed_here(version):
    clean = answers_validate(version.fields, COMPLETE, {"plan": pdf()})
    assert clean["staff"] == "12" and clean["truthful"] is True
    assert clean["budget"]["totals"] == {"amount": "150000.50"}
    assert clean["plan"] == {"name": "plan.pdf", "size": 109}


def test_tampered_table_totals_are_ignored_and_recomputed(version):
    tampered = {**COMPLETE, "budget": {**COMPLETE["budget"], "totals": {"amount": "1"}}}
    assert answers_validate(version.fields, tampered, {"plan": pdf()})["budget"]["totals"] == {"amount": "150000.50"}


def test_required_answers_are_needed_to_submit_but_not_in_a_draft(version):
    errors = errors_of(version, {"summary": "视觉质检"})
    assert set(errors) == {"staff", "stage", "budget", "plan", "truthful"}
    assert answers_validate(version.fields, {"summary": "视觉质检"}, {}, complete=False) == {"summary": "视觉质检"}


def test_a_question_hidden_by_its_show_if_is_not_required_and_its_answer_dropped(version):
    clean = answers_validate(version.fields, {**COMPLETE, "customers": "三家工厂"}, {"plan": pdf()})
    assert "customers" not in clean  # stage is "idea": the question was hidden, a posted answer is tampering
    errors = errors_of(version, {**COMPLETE, "stage": "product"}, {"plan": pdf()})
    assert set(errors) == {"customers"}


def test_unknown_keys_are_refused(version):
    assert set(errors_of(version, {**COMPLETE, "approved_amount": "9999999"}, {"plan": pdf()})) == {"approved_amount"}
    assert set(errors_of(version, COMPLETE, {"plan": pdf(), "summary": pdf()})) == {"summary"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("summary", "长" * 51),
        ("summary", ["not", "text"]),
        ("staff", "0"),
        ("staff", "501"),
        ("staff", "十二"),
        ("stage", "unicorn"),
        ("own_funds", "-1"),
        ("own_funds", "10.001"),
        ("start", "2026-02-30"),
        ("areas", ["cv", "robotics"]),
        ("budget", {"rows": [{"item": "算力", "amount": "很多"}]}),
        ("budget", {"rows": [{"item": "算力", "amount": "1", "secret": "x"}]}),
        ("budget", "not a table"),
    ],
)
def test_answers_of_the_wrong_type_or_out_of_range_are_refused(version, name, value):
    assert set(errors_of(version, {**COMPLETE, name: value}, {"plan": pdf()})) == {name}


def test_files_of_a_forbidden_type_or_too_large_are_refused(version):
    assert set(errors_of(version, COMPLETE, {"plan": pdf(name="plan.exe")})) == {"plan"}
    assert set(errors_of(version, COMPLETE, {"plan": pdf(size=1024 * 1024 + 1)})) == {"plan"}


# --- the services use it ---------------------------------------------------------------------------
def test_a_draft_is_checked_against_the_form_and_a_submit_needs_every_required_answer(form_call, startup, applicant):
    with pytest.raises(services.ApplicationRefused) as refused:
        draft(form_call, startup, applicant, answers={"staff": "many"})
    assert refused.value.errors == {"staff": ["Enter a number."]}
    application = draft(form_call, startup, applicant, answers={"summary": "视觉质检"})
    with pytest.raises(services.ApplicationRefused) as refused:
        services.application_submit(application=application, by=applicant)
    assert refused.value.code == "invalid_answers" and "truthful" in refused.value.errors
    application.refresh_from_db()
    assert application.status == S.DRAFT


def test_an_attachment_is_stored_privately_and_named_in_the_answers(form_call, startup, applicant, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    application = draft(form_call, startup, applicant)
    application = services.application_update(
        application=application, by=applicant, fields={"answers": COMPLETE}, files={"plan": pdf()}
    )
    attachment = Attachment.objects.get(application=application)
    assert application.answers["plan"] == {"name": "plan.pdf", "size": 109, "attachment": attachment.pk}
    assert (tmp_path / attachment.file.name).read_bytes().startswith(b"%PDF")
    services.application_submit(application=application, by=applicant)
    assert Application.objects.get(pk=application.pk).status == S.SUBMITTED


def test_a_refused_attachment_stores_nothing(form_call, startup, applicant, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    application = draft(form_call, startup, applicant, answers={"summary": "视觉质检"})
    for upload in (pdf(name="virus.exe"), pdf(size=2 * 1024 * 1024)):
        with pytest.raises(services.ApplicationRefused):
            services.application_update(
                application=application, by=applicant, fields={"answers": {"summary": "改了"}}, files={"plan": upload}
            )
    application.refresh_from_db()
    assert (application.answers, Attachment.objects.count(), list(tmp_path.iterdir())) == (
        {"summary": "视觉质检"},
        0,
        [],
    )


def test_an_application_keeps_validating_against_its_version_after_the_form_changes(
    form, form_call, startup, applicant, settings, tmp_path
):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    application = draft(form_call, startup, applicant)
    services.application_update(
        application=application, by=applicant, fields={"answers": COMPLETE}, files={"plan": pdf()}
    )
    # Version 2 renames the summary and asks a new required question.
    republish(form, [q("short_text", "abstract", "摘要"), *BASIC[2:], q("short_text", "patents", "专利")])
    form_call.refresh_from_db()
    assert form_call.form_version == 2
    services.application_submit(application=application, by=applicant)  # checked against version 1
    application.refresh_from_db()
    assert (application.status, application.form_version, application.answers["summary"]) == (
        S.SUBMITTED,
        1,
        "视觉质检",
    )
    newer = draft(form_call, startup, applicant, answers={"abstract": "新表"})
    assert newer.form_version == 2


def test_linking_a_call_to_a_form_takes_its_latest_version_and_an_unpublished_form_is_refused(fund, manager, form):
    republish(form, BASIC)
    call = services.call_create(
        fund=fund,
        by=manager,
        fields={
            "title": "新征集",
            "opens_at": "2026-12-01T00:00:00Z",
            "closes_at": "2027-01-01T00:00:00Z",
            "budget_envelope": "100000",
            "form": form,
        },
    )
    assert call.form_version == 2
    unpublished = ApplicationForm.objects.create(name="草稿表", fields=BASIC[:2], live=False)
    with pytest.raises(services.CallRefused) as refused:
        services.call_update(call=call, by=manager, fields={"form": unpublished})
    assert "form" in refused.value.errors


def test_fund_managers_build_forms_in_the_wagtail_admin(client, form):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    add = client.get(reverse("wagtailsnippets_funds_applicationform:add"))
    assert add.status_code == 200 and "multi_choice" in add.content.decode()
    edit = client.get(reverse("wagtailsnippets_funds_applicationform:edit", args=[form.pk]))
    assert edit.status_code == 200 and "show_if_field" in edit.content.decode()


def test_publishing_in_the_wagtail_admin_freezes_a_version(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    question = {"name": "summary", "label": "项目简介", "label_en": "", "help": "", "help_en": "", "required": "on"}
    data = {
        "name": "新申请表",
        "name_en": "",
        "fields-count": "1",
        "fields-0-type": "short_text",
        "fields-0-deleted": "",
        "fields-0-order": "0",
        "fields-0-id": "",
        **{f"fields-0-value-{key}": value for key, value in question.items()},
        "fields-0-value-show_if_field": "",
        "fields-0-value-show_if_value": "",
        "fields-0-value-max_length": "",
        "action-publish": "action-publish",
    }
    response = client.post(reverse("wagtailsnippets_funds_applicationform:add"), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    version = FormVersion.objects.get(form__name="新申请表")
    assert (version.number, version.fields[0]["name"], version.fields[0]["required"]) == (1, "summary", True)


def test_a_blind_reviewer_reads_the_answers_without_those_that_identify_the_applicant(
    form_call, startup, applicant, manager, reviewers, settings, tmp_path
):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    republish(form_call.form, [*BASIC, q("short_text", "founder", "创始人", identifying=True, required=False)])
    Call.objects.filter(pk=form_call.pk).update(blind_review=True)
    form_call.refresh_from_db()
    application = draft(form_call, startup, applicant)
    services.application_update(
        application=application,
        by=applicant,
        fields={"answers": {**COMPLETE, "founder": "张三"}},
        files={"plan": pdf()},
    )
    in_review(application, applicant=applicant, manager=manager)
    services.review_assign(application=application, reviewer=reviewers[0], by=manager)
    application.refresh_from_db()
    seen = application_view(user=reviewers[0], application=application)
    assert "founder" not in seen.answers and seen.answers["summary"] == "视觉质检"
    assert application_view(user=manager, application=application).answers["founder"] == "张三"
