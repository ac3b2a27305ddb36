"""Competition bundles: export → import gives an equal competition; problems are reported with their
competition.yaml line before anything is stored; unsafe zips are refused."""

from __future__ import annotations

import io
import stat
import textwrap
import zipfile

import numpy as np
import pytest
import yaml
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions import bundle
from competitions.bundle import BundleInvalid, bundle_export, bundle_import
from competitions.models import Baseline, Competition, DataFile, Phase
from competitions.services import COMPETITION_FIELDS, PHASE_FIELDS, baseline_set, phase_training_file_add
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def make_zip(files: dict[str, bytes | str], *, links: tuple[str, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zipped.writestr(info, "/etc/passwd")
    buffer.seek(0)
    return buffer


def stored_files(settings) -> list[str]:
    root = settings.PRIVATE_MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def npz(ids: list[int]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, id=np.array(ids), x=np.arange(len(ids) * 2, dtype=float).reshape(len(ids), 2))
    return buffer.getvalue()


YAML = textwrap.dedent(
    """\
    format: 1
    competition:
      slug: bad-one
      title: 坏比赛
      max_team_size: 0
    phases:
      - name: 初赛
        starts_at: 2026-12-01T09:00:00+08:00
        ends_at: 2026-12-31T09:00:00+08:00
        accepted_kinds: [predictions]
        daily_limit: -1
        scoring: {output: label, metrics: [accuracy], label_type: int}
        hidden_data:
          labels: data/labels.csv
        training_files:
          - path: data/absent.csv
        colour: blue
    """
)


def test_export_then_import_gives_an_equal_competition(host, competition, phase, settings):
    DataFile.objects.create(
        phase=phase,
        role=DataFile.Role.HIDDEN_INPUTS,
        file=ContentFile(npz([0, 1, 2, 3]), name="inputs.npz"),
        original_name="inputs.npz",
        size=1,
        sha256="0" * 64,
    )
    phase_training_file_add(
        phase=phase, by=host, upload=SimpleUploadedFile("训练集.csv", b"id,x\n1,2\n"), description="训练数据"
    )
    baseline_set(phase=phase, by=host, name="随机猜测", name_en="Random", scores={"public": {"accuracy": 0.1}})
    archive = bundle_export(competition=competition, include_hidden=True)

    copy = bundle_import(bundle=archive, host=competition.host, by=host, slug="digits-copy")

    assert copy.status == "draft" and copy.slug == "digits-copy" and copy.created_by == host
    assert {n: getattr(copy, n) for n in COMPETITION_FIELDS if n != "slug"} == {
        n: getattr(competition, n) for n in COMPETITION_FIELDS if n != "slug"
    }
    (twin,) = copy.phases.all()
    for name in (*PHASE_FIELDS, "scoring_config", "primary_metric", "higher_is_better"):
        assert getattr(twin, name) == getattr(phase, name), name
    assert list(twin.baselines.values_list("name", "name_en", "scores")) == list(
        phase.baselines.values_list("name", "name_en", "scores")
    )

    def files(p: Phase) -> list[tuple[str, str, str, bytes]]:
        return [(f.role, f.original_name, f.description, f.file.read()) for f in p.data_files.order_by("role", "id")]

    assert files(twin) == files(phase)
    assert {f.role for f in twin.data_files.all()} == {"training", "hidden_inputs", "hidden_labels"}


def test_an_export_without_hidden_data_lists_none_and_keeps_texts_readable(competition, phase):
    Competition.objects.filter(pk=competition.pk).update(rules="第一条：每队每天两次。\n第二条：禁止共享标签。\n")
    competition.refresh_from_db()
    zipped = zipfile.ZipFile(bundle_export(competition=competition, include_hidden=False))
    text = zipped.read("competition.yaml").decode()
    assert "  rules: |\n    第一条：每队每天两次。\n    第二条：禁止共享标签。\n" in text
    document = yaml.safe_load(text)
    assert document["competition"]["rules"] == competition.rules
    assert "hidden_data" not in document["phases"][0]
    assert not any("hidden" in name for name in zipped.namelist())


def test_every_problem_is_reported_with_its_line_and_nothing_is_stored(host, competition, settings):
    files = {"competition.yaml": YAML, "data/labels.csv": "id,label\n0,1\n1,x\n"}
    before = (Competition.objects.count(), stored_files(settings))
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip(files), host=competition.host, by=host)
    assert refused.value.errors == [
        "competition.yaml line 5: competition.max_team_size must be a positive whole number",
        "competition.yaml line 11: phases[0].daily_limit must be a positive whole number",
        "competition.yaml line 14: phases[0].hidden_data.labels in data/labels.csv: "
        "Line 3: the label x is not a whole number.",
        "competition.yaml line 16: phases[0].training_files[0].path names data/absent.csv, which is not in the bundle",
        "competition.yaml line 17: phases[0].colour is not a setting the bundle may carry",
    ]
    assert (Competition.objects.count(), stored_files(settings)) == before


def test_a_taken_slug_and_a_bad_scoring_are_named_at_their_lines(host, competition):
    text = YAML.replace("bad-one", competition.slug).replace("max_team_size: 0", "max_team_size: 2")
    text = text.replace("daily_limit: -1", "daily_limit: 2").replace("metrics: [accuracy]", "metrics: [rmse]")
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip({"competition.yaml": text}), host=competition.host, by=host)
    errors = refused.value.errors
    assert (
        errors[0]
        == "competition.yaml line 3: competition.slug Competition with this Short name in the address already exists."
    )
    assert errors[1].startswith("competition.yaml line 12: phases[0].scoring is not valid: rmse needs values")


def test_a_refusal_found_while_writing_rolls_everything_back_files_included(host, competition, settings):
    """Accepting ONNX models needs hidden inputs: the service refuses after the competition, the phase
    and a training file were written; all of it goes."""
    text = textwrap.dedent(
        """\
        competition: {slug: half-done, title: 半成品}
        phases:
          - name: 初赛
            starts_at: "2026-12-01T09:00:00+08:00"
            ends_at: "2026-12-31T09:00:00+08:00"
            accepted_kinds: [onnx]
            scoring: {output: label, metrics: [accuracy], label_type: int}
            training_files: [{path: data/train.csv}]
            hidden_data: {labels: data/labels.csv}
        """
    )
    files = {
        "competition.yaml": text,
        "data/train.csv": "id,x\n",
        "data/labels.csv": "id,label,split\n0,1,public\n1,2,private\n",
    }
    before = stored_files(settings)
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip(files), host=competition.host, by=host)
    assert refused.value.errors == [
        "competition.yaml line 9: phases[0].hidden_data.inputs Required for the kinds this phase accepts."
    ]
    assert not Competition.objects.filter(slug="half-done").exists()
    assert not DataFile.objects.filter(phase__competition__slug="half-done").exists()
    assert stored_files(settings) == before


@pytest.mark.parametrize(
    ("files", "links", "error"),
    [
        ({"../evil.txt": "x"}, (), "../evil.txt: a path outside the bundle is refused."),
        ({"/etc/cron.d/evil": "x"}, (), "/etc/cron.d/evil: a path outside the bundle is refused."),
        ({"data/../../evil": "x"}, (), "data/../../evil: a path outside the bundle is refused."),
        ({}, ("data/link",), "data/link: links are refused."),
        ({}, (), None),
    ],
)
def test_unsafe_zips_are_refused_before_anything_is_read(host, competition, files, links, error):
    files = {"competition.yaml": "competition: {slug: safe, title: 安全}\n", **files}
    if error is None:  # the size limit
        files["data/big.bin"] = b"0" * 2048
        error = "The bundle unpacks to more than 0 MB."
    archive = make_zip(files, links=links)
    with pytest.MonkeyPatch.context() as patch:
        if "big" in str(files):
            patch.setattr(bundle, "MAX_BUNDLE_BYTES", 1024)
        with pytest.raises(BundleInvalid) as refused:
            bundle_import(bundle=archive, host=competition.host, by=host)
    assert error in refused.value.errors
    assert not Competition.objects.filter(slug="safe").exists()


def test_not_a_zip_and_broken_yaml_are_plain_errors(host, competition):
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=io.BytesIO(b"not a zip"), host=competition.host, by=host)
    assert refused.value.errors == ["The bundle is not a zip file."]
    broken = make_zip({"competition.yaml": "competition:\n  slug: [unclosed\n"})
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=broken, host=competition.host, by=host)
    assert refused.value.errors[0].startswith("competition.yaml line 3: ")
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip({"competition.yaml": "- a list\n"}), host=competition.host, by=host)
    assert refused.value.errors == [
        "competition.yaml line 1: the document must be a mapping with competition and phases"
    ]
    laughs = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"  # aliases could expand without end
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip({"competition.yaml": laughs}), host=competition.host, by=host)
    assert refused.value.errors == ["competition.yaml line 2: aliases are not supported."]
    with pytest.raises(BundleInvalid) as refused:
        bundle_import(bundle=make_zip({"other.yaml": ""}), host=competition.host, by=host)
    assert refused.value.errors == ["The bundle has no competition.yaml at its top."]


def test_the_import_page_creates_the_draft_or_lists_the_problems(client, host, competition, phase):
    Phase.objects.filter(pk=phase.pk).update(accepted_kinds=["predictions"])  # hidden inputs are not needed
    client.force_login(host)
    archive = bundle_export(competition=competition, include_hidden=True).read()
    page = "/en/host/competitions/import/"
    response = client.post(page, {"bundle": SimpleUploadedFile("b.zip", archive), "host": competition.host_id})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    response = client.post(
        page, {"bundle": SimpleUploadedFile("b.zip", archive), "host": competition.host_id, "slug": "digits-2027"}
    )
    assert response.status_code == 302, response.content.decode().split("<main")[1][:3000]
    assert response["Location"].endswith("/host/competitions/digits-2027/")
    imported = Competition.objects.get(slug="digits-2027")
    assert imported.status == "draft" and imported.phases.get().data_files.filter(role="hidden_labels").exists()
    assert Baseline.objects.filter(phase__competition=imported).count() == phase.baselines.count()


def test_the_export_page_gives_the_bundle_with_the_hidden_data(client, host, competition, phase):
    client.force_login(host)
    response = client.get(f"/en/host/competitions/{competition.slug}/bundle.zip")
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert zipped.read("data/phase-1/hidden/labels.csv") == phase.data_files.get(role="hidden_labels").file.read()


def test_an_export_with_a_data_file_missing_from_storage_says_so(client, host, competition, phase):
    labels = phase.data_files.get(role="hidden_labels")
    labels.file.storage.delete(labels.file.name)
    client.force_login(host)
    response = client.get(f"/en/host/competitions/{competition.slug}/bundle.zip", follow=True)
    assert response.redirect_chain[-1][0] == f"/en/host/competitions/{competition.slug}/"
    assert "missing from storage" in response.content.decode()


def test_a_bundle_is_imported_only_for_an_organisation_the_user_hosts_for(client, host, competition):
    archive = bundle_export(competition=competition, include_hidden=False).read()
    client.force_login(host)
    response = client.post(
        "/en/host/competitions/import/",
        {"bundle": SimpleUploadedFile("b.zip", archive), "host": OrganisationFactory().pk, "slug": "elsewhere"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Competition.objects.filter(slug="elsewhere").exists()
