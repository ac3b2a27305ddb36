"""A competition as one zip a host can keep, share and load again: `competition.yaml` (the competition's
fields, its phases with their settings, scoring, baselines and file lists) and the data files under `data/`.

Import checks the whole bundle before writing anything and names each problem with its line in
competition.yaml; then it creates the draft through the services in one transaction, so the hidden data
passes the same checks as an upload. Export writes the same format; the hidden labels and inputs go in
only where the caller says (the host's own export).
"""

from __future__ import annotations

import datetime
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any

import yaml
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from competitions import datasets, services
from competitions.models import SPLITS, Competition, DataFile, Phase
from competitions.services import COMPETITION_FIELDS, PHASE_FIELDS, Refused
from hub.accounts.models import Organisation, User
from services.scorer.config import ScoringConfig
from services.scorer.errors import ScoringConfigError

BUNDLE_FILE = "competition.yaml"
FORMAT = 1
MAX_BUNDLE_BYTES = 1024**3  # all files unpacked together
MAX_ENTRIES = 2000
MAX_ERRORS = 50
MAX_YAML_BYTES = 1024**2
MAX_PHASES = 20

Path = tuple[str | int, ...]


class BundleInvalid(ValueError):
    """The bundle cannot be imported; `errors` are messages, those about competition.yaml with a line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# --- export ----------------------------------------------------------------------------------------
def bundle_export(*, competition: Competition, include_hidden: bool) -> IO[bytes]:
    """The competition as a bundle zip in a rewound temporary file. `include_hidden` adds each phase's
    hidden labels and inputs: only for its hosts, whose own data it is."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "competition": {name: getattr(competition, name) for name in COMPETITION_FIELDS},
        "phases": [],
    }
    archive = tempfile.TemporaryFile(prefix="wanzhi-bundle-")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for number, phase in enumerate(competition.phases.order_by("starts_at", "id"), start=1):
            entry: dict[str, Any] = {name: _plain(getattr(phase, name)) for name in PHASE_FIELDS}
            entry["scoring"] = phase.scoring_config
            entry["baselines"] = [
                {"name": b.name, "name_en": b.name_en, "description": b.description, "scores": b.scores}
                for b in phase.baselines.order_by("name")
            ]
            entry["training_files"] = []
            hidden: dict[str, str] = {}
            for index, data_file in enumerate(phase.data_files.order_by("role", "id"), start=1):
                if data_file.role == DataFile.Role.TRAINING:
                    path = f"data/phase-{number}/training/{index}/{_safe_name(data_file.original_name)}"
                    entry["training_files"].append(
                        {"path": path, "name": data_file.original_name, "description": data_file.description}
                    )
                elif include_hidden:
                    role = "labels" if data_file.role == DataFile.Role.HIDDEN_LABELS else "inputs"
                    path = f"data/phase-{number}/hidden/{role}{PurePosixPath(data_file.original_name).suffix}"
                    hidden[role] = path
                else:
                    continue
                with data_file.file.open("rb") as source, zipped.open(path, "w") as target:
                    shutil.copyfileobj(source, target, 1024**2)
            if hidden:
                entry["hidden_data"] = hidden
            document["phases"].append(entry)
        text = yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
        zipped.writestr(BUNDLE_FILE, text)
    archive.seek(0)
    return archive


class _Dumper(yaml.SafeDumper):
    """Safe YAML with texts of several lines as literal blocks, so that descriptions and rules read as written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.datetime) else value


def _safe_name(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name.lstrip(".") or "file"


# --- import ----------------------------------------------------------------------------------------
@dataclass
class _PhasePlan:
    index: int
    fields: dict[str, Any]
    scoring: dict[str, Any]
    baselines: list[dict[str, Any]] = field(default_factory=list)
    training: list[tuple[str, str, str]] = field(default_factory=list)  # path, name, description
    labels: str | None = None
    inputs: str | None = None


def bundle_import(*, bundle: IO[bytes], host: Organisation, by: User, slug: str = "") -> Competition:
    """Create a draft competition of `host` from a bundle, or raise BundleInvalid listing every problem
    found (with competition.yaml line numbers) and store nothing. `slug` replaces the bundle's address.
    NotPermitted where `by` does not host for `host`."""
    with _Archive(bundle) as archive:
        reader = _Reader(archive)
        competition_fields, phases = reader.plan(slug=slug.strip(), host=host)
        stored: list[str] = []
        try:
            with transaction.atomic():
                competition = reader.call(
                    ("competition",), services.competition_create, host=host, by=by, fields=competition_fields
                )
                for plan in phases:
                    _phase_import(reader, archive, plan, competition=competition, by=by, stored=stored)
        except BaseException:
            # The rows are rolled back; the files written for them must go too.
            for name in stored:
                DataFile.file.field.storage.delete(name)
            raise
    return competition


def _phase_import(
    reader: _Reader, archive: _Archive, plan: _PhasePlan, *, competition: Competition, by: User, stored: list[str]
) -> None:
    """Create one planned phase with its baselines and files, adding the names of the files it stores to
    `stored` as it goes (so that a later refusal can remove them)."""
    at: Path = ("phases", plan.index)
    phase = reader.call(
        at, services.phase_create, competition=competition, by=by, fields=plan.fields, scoring=plan.scoring
    )
    for number, baseline in enumerate(plan.baselines):
        reader.call((*at, "baselines", number), services.baseline_set, phase=phase, by=by, **baseline)
    for number, (path, name, description) in enumerate(plan.training):
        with archive.extract(path, name=name) as upload:
            data_file = reader.call(
                (*at, "training_files", number),
                services.phase_training_file_add,
                phase=phase,
                by=by,
                upload=upload,
                description=description,
            )
        stored.append(data_file.file.name)
    if plan.labels:
        labels = SimpleUploadedFile(PurePosixPath(plan.labels).name, archive.read(plan.labels))
        inputs = SimpleUploadedFile(PurePosixPath(plan.inputs).name, archive.read(plan.inputs)) if plan.inputs else None
        hidden = reader.call(
            (*at, "hidden_data"), services.phase_hidden_data_upload, phase=phase, by=by, labels=labels, inputs=inputs
        )
        stored.extend(data_file.file.name for data_file in hidden)


class _Archive:
    """The bundle's zip, checked before anything is read from it: no absolute or `..` paths, no links, not
    too many entries, not too many bytes unpacked (the declared sizes; zipfile never inflates a member
    past its declared size, and checks its CRC)."""

    def __init__(self, bundle: IO[bytes]) -> None:
        try:
            self.zipped = zipfile.ZipFile(bundle)
        except (zipfile.BadZipFile, OSError):
            raise BundleInvalid([_("The bundle is not a zip file.")]) from None
        infos = self.zipped.infolist()
        errors: list[str] = []
        if len(infos) > MAX_ENTRIES:
            errors.append(_("The bundle holds more than %(count)d files.") % {"count": MAX_ENTRIES})
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                errors.append(_("%(name)s: a path outside the bundle is refused.") % {"name": info.filename})
            elif stat.S_ISLNK(info.external_attr >> 16):
                errors.append(_("%(name)s: links are refused.") % {"name": info.filename})
        if sum(info.file_size for info in infos) > MAX_BUNDLE_BYTES:
            errors.append(_("The bundle unpacks to more than %(size)d MB.") % {"size": MAX_BUNDLE_BYTES // 1024**2})
        if errors:
            self.zipped.close()
            raise BundleInvalid(errors)
        self.infos = {str(PurePosixPath(info.filename.replace("\\", "/"))): info for info in infos if not info.is_dir()}

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zipped.close()

    def __contains__(self, path: str) -> bool:
        return path in self.infos

    def read(self, path: str) -> bytes:
        try:
            return self.zipped.read(self.infos[path])
        except (zipfile.BadZipFile, OSError, NotImplementedError):
            raise BundleInvalid([_("%(name)s cannot be unpacked.") % {"name": path}]) from None

    def extract(self, path: str, *, name: str) -> File:
        """A member as an uploaded-file-like object over a temporary file (large data never sits in memory)."""
        spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024**2)
        try:
            with self.zipped.open(self.infos[path]) as member:
                shutil.copyfileobj(member, spooled, 1024**2)
        except (zipfile.BadZipFile, OSError, NotImplementedError):
            spooled.close()
            raise BundleInvalid([_("%(name)s cannot be unpacked.") % {"name": path}]) from None
        spooled.seek(0)
        return File(spooled, name=name)


class _Reader:
    """Reads competition.yaml into what the services take, collecting every problem with its line."""

    def __init__(self, archive: _Archive) -> None:
        self.archive = archive
        if BUNDLE_FILE not in archive:
            raise BundleInvalid([_("The bundle has no %(name)s at its top.") % {"name": BUNDLE_FILE}])
        self.problems: list[tuple[int, str]] = []
        if archive.infos[BUNDLE_FILE].file_size > MAX_YAML_BYTES:
            raise BundleInvalid(
                [_("%(name)s is larger than %(size)d KB.") % {"name": BUNDLE_FILE, "size": MAX_YAML_BYTES // 1024}]
            )
        self.lines: dict[Path, int] = {}
        try:
            text = archive.read(BUNDLE_FILE).decode("utf-8-sig")
            loader = yaml.SafeLoader(text)
            try:
                node = loader.get_single_node()
                if node is not None:
                    self._map(node, (), seen=set())  # before constructing: it refuses aliases
                self.data = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except UnicodeDecodeError:
            raise BundleInvalid([_("%(name)s is not UTF-8 text.") % {"name": BUNDLE_FILE}]) from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            where = _("%(name)s line %(line)d") % {"name": BUNDLE_FILE, "line": mark.line + 1} if mark else BUNDLE_FILE
            problem = getattr(error, "problem", None) or str(error)
            raise BundleInvalid([f"{where}: {problem}"]) from None

    def _map(self, node: yaml.Node, path: Path, *, seen: set[int], used_at: int = 1) -> None:
        """Note the line of every path. An alias (a node met twice) is refused where it is used: a bundle
        needs none, and nested aliases could make a small file expand into an enormous document."""
        if id(node) in seen:
            raise BundleInvalid(
                [_("%(name)s line %(line)d: aliases are not supported.") % {"name": BUNDLE_FILE, "line": used_at}]
            )
        seen.add(id(node))
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                line = key.start_mark.line + 1
                self._map(value, (*path, str(key.value)), seen=seen, used_at=line)
                self.lines[(*path, str(key.value))] = line
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._map(item, (*path, index), seen=seen, used_at=self.lines[path])

    # -- reporting
    def error(self, path: Path, message: str) -> None:
        """Record a problem at `path` (or the nearest enclosing place competition.yaml has)."""
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), 1)
        text = _("%(file)s line %(line)d: %(path)s %(message)s") % {
            "file": BUNDLE_FILE,
            "line": line,
            "path": _dotted(path) or _("the document"),
            "message": message,
        }
        self.problems.append((line, text))

    @property
    def errors(self) -> list[str]:
        """The problems in the order of their lines."""
        return [text for _line, text in sorted(self.problems, key=lambda problem: problem[0])]

    def refusal(self, path: Path, refusal: Refused) -> None:
        if not refusal.errors:
            self.error(path, refusal.message)
        for name, messages in refusal.errors.items():
            target = (*path, "scoring") if name == "scoring_config" else (*path, name)
            for message in messages:
                self.error(target if name != "__all__" else path, message)

    def call(self, path: Path, function: Any, **kwargs: Any) -> Any:
        """A service call of the import: its refusal becomes BundleInvalid at `path` (the transaction rolls back)."""
        try:
            return function(**kwargs)
        except Refused as refusal:
            self.refusal(path, refusal)
            raise BundleInvalid(self.errors) from None

    # -- the plan
    def plan(self, *, slug: str, host: Organisation) -> tuple[dict[str, Any], list[_PhasePlan]]:
        """The competition's fields and each phase's plan, checked; BundleInvalid with every problem."""
        data = self.data
        if not isinstance(data, dict):
            self.error((), _("must be a mapping with competition and phases"))
            raise BundleInvalid(self.errors)
        if data.get("format", FORMAT) != FORMAT:
            self.error(("format",), _("must be %(format)d") % {"format": FORMAT})
        competition = self._competition(data.get("competition"), slug=slug, host=host)
        raw_phases = data.get("phases", [])
        phases: list[_PhasePlan] = []
        if not isinstance(raw_phases, list):
            self.error(("phases",), _("must be a list"))
        elif len(raw_phases) > MAX_PHASES:
            self.error(("phases",), _("may list at most %(count)d phases") % {"count": MAX_PHASES})
        else:
            phases = [plan for index, raw in enumerate(raw_phases) if (plan := self._phase(index, raw))]
        if self.problems:
            raise BundleInvalid(self.errors[:MAX_ERRORS])
        return competition, phases

    def _competition(self, raw: Any, *, slug: str, host: Organisation) -> dict[str, Any]:
        at: Path = ("competition",)
        if not isinstance(raw, dict):
            self.error(at, _("must be a mapping of the competition's fields"))
            return {}
        self._unknown(at, raw, COMPETITION_FIELDS)
        fields = {name: raw[name] for name in COMPETITION_FIELDS if name in raw}
        if slug:
            fields["slug"] = slug
        for name, value in fields.items():
            if name == "max_team_size":
                self._positive((*at, name), value)
            elif not isinstance(value, str):
                self.error((*at, name), _("must be text"))
        for name in ("slug", "title"):
            if not fields.get(name):
                self.error((*at, name), _("is required"))
        if not self.problems:
            self._model_errors(at, Competition(host=host, **fields), exclude=["host", "created_by"])
        return fields

    def _phase(self, index: int, raw: Any) -> _PhasePlan | None:
        at: Path = ("phases", index)
        if not isinstance(raw, dict):
            self.error(at, _("must be a mapping of the phase's settings"))
            return None
        known = (*PHASE_FIELDS, "scoring", "baselines", "training_files", "hidden_data")
        self._unknown(at, raw, known)
        before = len(self.problems)
        fields = {name: raw[name] for name in PHASE_FIELDS if name in raw}
        for name in ("name", "starts_at", "ends_at", "accepted_kinds"):
            if name not in fields:
                self.error((*at, name), _("is required"))
        for name in ("starts_at", "ends_at"):
            if name in fields:
                fields[name] = self._datetime((*at, name), fields[name])
        if "accepted_kinds" in fields:
            kinds = fields["accepted_kinds"]
            if not isinstance(kinds, list) or not kinds or any(k not in Phase.Kind.values for k in kinds):
                self.error(
                    (*at, "accepted_kinds"),
                    _("must be a list of one or more of %(kinds)s") % {"kinds": ", ".join(Phase.Kind.values)},
                )
        for name in (
            "time_limit_seconds",
            "memory_limit_bytes",
            "max_upload_bytes",
            "daily_limit",
            "final_selection_count",
        ):
            if name in fields:
                self._positive((*at, name), fields[name])
        if fields.get("total_limit") is not None:
            self._positive((*at, "total_limit"), fields["total_limit"])
        fraction = fields.get("public_fraction", 0.5)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
            self.error((*at, "public_fraction"), _("must be a number between 0 and 1"))
        if "resources" in fields and fields["resources"] not in Phase.Resources.values:
            self.error((*at, "resources"), _("must be cpu or gpu"))
        extra = fields.get("extra_columns", [])
        if not isinstance(extra, list) or not all(isinstance(name, str) for name in extra):
            self.error((*at, "extra_columns"), _("must be a list of metric names"))
        for name in ("name", "name_en"):
            if name in fields and not isinstance(fields[name], str):
                self.error((*at, name), _("must be text"))
        scoring = raw.get("scoring")
        config = None
        if not isinstance(scoring, dict):
            self.error((*at, "scoring"), _("must be a mapping of the scoring settings"))
        else:
            try:
                config = ScoringConfig.from_dict(scoring)
            except (ScoringConfigError, TypeError) as exc:
                self.error((*at, "scoring"), _("is not valid: %(problem)s") % {"problem": exc})
        if len(self.problems) == before:
            self._model_errors(
                at,
                Phase(**fields),
                exclude=["competition", "scoring_config", "primary_metric", "higher_is_better"],
            )
        plan = _PhasePlan(index=index, fields=fields, scoring=scoring if isinstance(scoring, dict) else {})
        plan.baselines = self._baselines((*at, "baselines"), raw.get("baselines", []))
        plan.training = self._training((*at, "training_files"), raw.get("training_files", []))
        self._hidden((*at, "hidden_data"), raw.get("hidden_data"), plan, config)
        return plan

    def _baselines(self, at: Path, raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            self.error(at, _("must be a list"))
            return []
        baselines = []
        for number, item in enumerate(raw):
            here = (*at, number)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
                self.error(here, _("must be a mapping with a name"))
                continue
            self._unknown(here, item, ("name", "name_en", "description", "scores"))
            scores = item.get("scores", {})
            fine = isinstance(scores, dict) and all(
                split in SPLITS
                and isinstance(values, dict)
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values())
                for split, values in scores.items()
            )
            if not fine:
                self.error((*here, "scores"), _("must map public/private to metric names and numbers"))
            baselines.append(
                {
                    "name": item["name"],
                    "name_en": str(item.get("name_en") or ""),
                    "description": str(item.get("description") or ""),
                    "scores": scores if fine else {},
                }
            )
        return baselines

    def _training(self, at: Path, raw: Any) -> list[tuple[str, str, str]]:
        if not isinstance(raw, list):
            self.error(at, _("must be a list"))
            return []
        training = []
        for number, item in enumerate(raw):
            here = (*at, number)
            if not isinstance(item, dict):
                self.error(here, _("must be a mapping with a path"))
                continue
            self._unknown(here, item, ("path", "name", "description"))
            path = self._file((*here, "path"), item.get("path"))
            if path:
                name = str(item.get("name") or PurePosixPath(path).name)
                training.append((path, name, str(item.get("description") or "")))
        return training

    def _hidden(self, at: Path, raw: Any, plan: _PhasePlan, config: ScoringConfig | None) -> None:
        if raw is None:
            return
        if not isinstance(raw, dict) or "labels" not in raw:
            self.error(at, _("must be a mapping with labels (and inputs for models and code)"))
            return
        self._unknown(at, raw, ("labels", "inputs"))
        plan.labels = self._file((*at, "labels"), raw["labels"])
        plan.inputs = self._file((*at, "inputs"), raw["inputs"]) if raw.get("inputs") else None
        if config is None or plan.labels is None:
            return
        # Checked here too, so that the report lists its problems with the others before anything is written.
        role, path = "labels", plan.labels
        try:
            checked = datasets.labels_check(
                data=self.archive.read(path),
                config=config,
                seed=0,
                public_fraction=plan.fields.get("public_fraction", 0.3),
            )
            if plan.inputs:
                role, path = "inputs", plan.inputs
                datasets.inputs_check(data=self.archive.read(path), ids=checked.ids)
        except datasets.DatasetInvalid as invalid:
            for problem in invalid.errors:
                self.error((*at, role), _("in %(file)s: %(problem)s") % {"file": path, "problem": problem})

    # -- checks
    def _file(self, at: Path, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            self.error(at, _("must be the path of a file in the bundle"))
            return None
        path = str(PurePosixPath(value.replace("\\", "/")))
        if path not in self.archive or path == BUNDLE_FILE:
            self.error(at, _("names %(path)s, which is not in the bundle") % {"path": value})
            return None
        return path

    def _positive(self, at: Path, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.error(at, _("must be a positive whole number"))

    def _datetime(self, at: Path, value: Any) -> datetime.datetime | None:
        if isinstance(value, str):
            value = parse_datetime(value)
        if not isinstance(value, datetime.datetime):
            self.error(at, _("must be a date and time, e.g. 2026-12-01T09:00:00+08:00"))
            return None
        return value if timezone.is_aware(value) else timezone.make_aware(value)

    def _unknown(self, at: Path, raw: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for name in raw:
            if name not in known:
                self.error((*at, str(name)), _("is not a setting the bundle may carry"))

    def _model_errors(self, at: Path, instance: Any, *, exclude: list[str]) -> None:
        try:
            instance.full_clean(exclude=exclude, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.error(at if name == "__all__" else (*at, name), message)


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
