"""Application forms built from blocks in the Wagtail admin, their frozen field definitions, and the one
check of an applicant's answers against them (`answers_validate`), which the pages and services share.

A form's blocks become, on publishing, a list of plain field definitions (dicts, `definitions()`), frozen
in a FormVersion: answers are always read and checked against the definitions they were given on.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from wagtail import blocks

SECTION = "section"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
# Text answers have a ceiling even when the manager sets none, so no answer is unbounded.
TEXT_LIMITS = {"short_text": 200, "long_text": 10000}
MAX_TABLE_ROWS = 50
DEFAULT_MAX_FILE_MB = 10
MONEY_CEILING = Decimal("999999999999.99")
CENT = Decimal("0.01")
DECLARED = {True, "true", "on", "1", "yes"}


class AnswersInvalid(Exception):
    """Some answers do not fit the form version; `errors` maps field names to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__(_("Please correct the marked answers."))
        self.errors = {name: [str(m) for m in messages] for name, messages in errors.items()}


# --- the blocks fund managers build forms from --------------------------------------------------
class FieldBlock(blocks.StructBlock):
    """What every question has: a machine name (the answer's key), a label and help in both languages,
    whether it is required, an optional show-if condition on an earlier answer, and whether its answer
    identifies the applicant (blind review leaves it out)."""

    name = blocks.RegexBlock(
        regex=NAME_PATTERN,
        label=_lazy("name"),
        help_text=_lazy("Key of the answer: lower-case letters, digits and _, unique in the form."),
        error_messages={"invalid": _lazy("Lower-case letters, digits and _, starting with a letter.")},
    )
    label = blocks.CharBlock(label=_lazy("label"), max_length=300)
    label_en = blocks.CharBlock(label=_lazy("English label"), max_length=300, required=False)
    help = blocks.TextBlock(label=_lazy("help"), required=False)
    help_en = blocks.TextBlock(label=_lazy("English help"), required=False)
    required = blocks.BooleanBlock(label=_lazy("required"), required=False, default=True)
    show_if_field = blocks.CharBlock(label=_lazy("show only if the answer to (name)"), required=False, max_length=40)
    show_if_value = blocks.CharBlock(label=_lazy("is"), required=False, max_length=200)
    identifying = blocks.BooleanBlock(
        label=_lazy("identifies the applicant"),
        required=False,
        help_text=_lazy("Hidden from reviewers of blind calls."),
    )


class TextFieldBlock(FieldBlock):
    max_length = blocks.IntegerBlock(label=_lazy("maximum length"), required=False, min_value=1)


class NumberFieldBlock(FieldBlock):
    min_value = blocks.DecimalBlock(label=_lazy("minimum"), required=False)
    max_value = blocks.DecimalBlock(label=_lazy("maximum"), required=False)


class ChoiceBlock(blocks.StructBlock):
    value = blocks.RegexBlock(regex=r"^[a-z0-9_-]{1,40}$", label=_lazy("value"))
    label = blocks.CharBlock(label=_lazy("label"), max_length=200)
    label_en = blocks.CharBlock(label=_lazy("English label"), max_length=200, required=False)


class ChoiceFieldBlock(FieldBlock):
    choices = blocks.ListBlock(ChoiceBlock(), label=_lazy("choices"), min_num=1)


class FileFieldBlock(FieldBlock):
    file_types = blocks.CharBlock(
        label=_lazy("allowed file types"), default=".pdf", help_text=_lazy("Extensions, comma separated: .pdf,.docx")
    )
    max_size_mb = blocks.IntegerBlock(label=_lazy("largest file (MB)"), default=DEFAULT_MAX_FILE_MB, min_value=1)


class ColumnBlock(blocks.StructBlock):
    name = blocks.RegexBlock(regex=NAME_PATTERN, label=_lazy("name"))
    label = blocks.CharBlock(label=_lazy("label"), max_length=100)
    label_en = blocks.CharBlock(label=_lazy("English label"), max_length=100, required=False)
    numeric = blocks.BooleanBlock(label=_lazy("numeric (summed)"), required=False)


class TableFieldBlock(FieldBlock):
    columns = blocks.ListBlock(ColumnBlock(), label=_lazy("columns"), min_num=1)
    rows = blocks.IntegerBlock(label=_lazy("rows"), default=5, min_value=1, max_value=MAX_TABLE_ROWS)


class SectionBlock(blocks.StructBlock):
    """A step break: the questions after it, up to the next one, are one step of the form."""

    title = blocks.CharBlock(label=_lazy("title"), max_length=200)
    title_en = blocks.CharBlock(label=_lazy("English title"), max_length=200, required=False)
    help = blocks.TextBlock(label=_lazy("help"), required=False)
    help_en = blocks.TextBlock(label=_lazy("English help"), required=False)


class FormFieldsBlock(blocks.StreamBlock):
    """The questions of a form, in order; refuses duplicate names and show-ifs that do not point to an
    earlier question."""

    section = SectionBlock(label=_lazy("Section / step break"))
    short_text = TextFieldBlock(label=_lazy("Short text"))
    long_text = TextFieldBlock(label=_lazy("Long text"))
    number = NumberFieldBlock(label=_lazy("Number"))
    money = NumberFieldBlock(label=_lazy("Money (CNY)"))
    date = FieldBlock(label=_lazy("Date"))
    choice = ChoiceFieldBlock(label=_lazy("Single choice"))
    multi_choice = ChoiceFieldBlock(label=_lazy("Multiple choice"))
    file = FileFieldBlock(label=_lazy("File upload"))
    table = TableFieldBlock(label=_lazy("Table"))
    declaration = FieldBlock(label=_lazy("Declaration checkbox"))

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        problems = definition_problems(definitions(value))
        if problems:
            raise blocks.StreamBlockValidationError(non_block_errors=ValidationError(problems))
        return value


# --- definitions: what a FormVersion freezes ---------------------------------------------------
def definitions(stream: Iterable[Any]) -> list[dict[str, Any]]:
    """The form's blocks as plain field definitions (JSON-ready), in order."""
    fields = []
    for child in stream:
        value = dict(child.value)
        spec: dict[str, Any] = {"type": child.block_type}
        for key, item in value.items():
            if key == "choices":
                item = [dict(choice) for choice in item]
            elif key == "columns":
                item = [dict(column) for column in item]
            elif isinstance(item, Decimal):
                item = str(item)
            spec[key] = item
        if child.block_type != SECTION:
            condition = (spec.pop("show_if_field", "") or "").strip()
            spec["show_if"] = {"field": condition, "value": spec.pop("show_if_value", "") or ""} if condition else None
        if child.block_type == "file":
            spec["file_types"] = sorted(
                {f".{ext.strip().lstrip('.').lower()}" for ext in spec["file_types"].split(",") if ext.strip()}
            )
        fields.append(spec)
    return fields


def definition_problems(fields: Sequence[Mapping[str, Any]]) -> list[str]:
    """What makes a form unusable: a name used twice, a show-if on a question that does not come earlier."""
    problems: list[str] = []
    seen: set[str] = set()
    for spec in questions(fields):
        if spec["name"] in seen:
            problems.append(_("The name “%(name)s” is used twice.") % {"name": spec["name"]})
        condition = spec.get("show_if")
        if condition and condition["field"] not in seen:
            problems.append(
                _("“%(name)s” is shown depending on “%(other)s”, which is not an earlier question.")
                % {"name": spec["name"], "other": condition["field"]}
            )
        seen.add(spec["name"])
    return problems


def questions(fields: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The questions alone, without the section breaks."""
    return [spec for spec in fields if spec["type"] != SECTION]


@dataclass(frozen=True)
class Step:
    title: str
    title_en: str
    help: str
    help_en: str
    fields: list[Mapping[str, Any]]


def steps(fields: Sequence[Mapping[str, Any]]) -> list[Step]:
    """The form cut into steps at its section breaks (questions before the first break form a step of
    their own); at least one step."""
    result: list[Step] = []
    for spec in fields:
        if spec["type"] == SECTION:
            result.append(
                Step(spec["title"], spec.get("title_en", ""), spec.get("help", ""), spec.get("help_en", ""), [])
            )
        else:
            if not result:
                result.append(Step("", "", "", "", []))
            result[-1].fields.append(spec)
    return [step for step in result if step.fields] or [Step("", "", "", "", [])]


# --- the answers --------------------------------------------------------------------------------
def answers_validate(
    fields: Sequence[Mapping[str, Any]],
    answers: Mapping[str, Any],
    files: Mapping[str, Any],
    *,
    complete: bool = True,
) -> dict[str, Any]:
    """Check `answers` against a form version's field definitions and return them cleaned, or raise
    AnswersInvalid naming each field at fault.

    - Unknown keys are refused; answers to questions hidden by their show-if are dropped.
    - With `complete` (submitting), every shown required question needs an answer; a draft may be partial.
    - Types and ranges as defined; tables keep their filled rows and get totals of their numeric columns
      recomputed here (totals sent by the client are ignored).
    - File questions take their answer from `files` (name → an object with `name` and `size`: a new
      upload or a stored attachment), checked for type and size; the answer is {"name", "size"}.
    """
    by_name = {spec["name"]: spec for spec in questions(fields)}
    errors: dict[str, list[str]] = {key: [_("Not a question of this form.")] for key in answers if key not in by_name}
    errors.update({key: [_("Not a file question of this form.")] for key in files if _kind(by_name, key) != "file"})
    clean: dict[str, Any] = {}
    for name, spec in by_name.items():
        if not shown(spec, clean):
            continue
        raw = files.get(name) if spec["type"] == "file" else answers.get(name)
        try:
            value = _clean(spec, raw)
        except ValidationError as exc:
            errors[name] = list(exc.messages)
            continue
        if value is None:
            if complete and spec.get("required"):
                errors[name] = [_("This question needs an answer.")]
            continue
        clean[name] = value
    if errors:
        raise AnswersInvalid(errors)
    return clean


def _kind(by_name: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    spec = by_name.get(name)
    return spec["type"] if spec else None


def shown(spec: Mapping[str, Any], clean: Mapping[str, Any]) -> bool:
    """A question is shown when it has no condition, or the earlier answer it names equals the value
    (or, for a multiple choice, includes it; for a declaration, "yes" means ticked)."""
    condition = spec.get("show_if")
    if not condition:
        return True
    answer = clean.get(condition["field"])
    if answer is None:
        return False
    if isinstance(answer, list):
        return condition["value"] in answer
    if isinstance(answer, bool):
        return answer == (condition["value"].lower() in DECLARED)
    return str(answer) == condition["value"]


def _empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == [] or raw == {}


def _clean(spec: Mapping[str, Any], raw: Any) -> Any:
    """One answer cleaned, None for no answer, or ValidationError."""
    kind = spec["type"]
    if kind == "declaration":
        return True if isinstance(raw, (str, bool)) and raw in DECLARED else None
    if _empty(raw):
        return None
    if kind in TEXT_LIMITS:
        return _text(spec, raw)
    if kind in ("number", "money"):
        return str(_decimal(spec, raw, money=kind == "money"))
    if kind == "date":
        try:
            return datetime.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValidationError(_("A date such as 2026-12-31.")) from None
    if kind == "choice":
        if not isinstance(raw, str) or raw not in _choice_values(spec):
            raise ValidationError(_("Pick one of the choices."))
        return raw
    if kind == "multi_choice":
        picked = [raw] if isinstance(raw, str) else raw
        if not isinstance(picked, list) or not set(picked) <= _choice_values(spec):
            raise ValidationError(_("Pick among the choices."))
        return [value for value in _choice_values_ordered(spec) if value in picked]
    if kind == "file":
        return _file(spec, raw)
    if kind == "table":
        return _table(spec, raw)
    raise ValidationError(_("This question cannot be answered."))


def _text(spec: Mapping[str, Any], raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError(_("Enter text."))
    text = raw.strip()
    limit = min(spec.get("max_length") or TEXT_LIMITS[spec["type"]], TEXT_LIMITS[spec["type"]])
    if len(text) > limit:
        raise ValidationError(
            _("At most %(limit)d characters (this is %(length)d).") % {"limit": limit, "length": len(text)}
        )
    return text


def _decimal(spec: Mapping[str, Any], raw: Any, *, money: bool) -> Decimal:
    if isinstance(raw, bool):
        raise ValidationError(_("Enter a number."))
    try:
        number = Decimal(str(raw).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(_("Enter a number."))
    if money:
        if number < 0 or number > MONEY_CEILING:
            raise ValidationError(_("An amount in yuan from 0 to %(max)s.") % {"max": MONEY_CEILING})
        if number != number.quantize(CENT):
            raise ValidationError(_("At most two decimal places."))
        number = number.quantize(CENT)
    low, high = spec.get("min_value"), spec.get("max_value")
    if low not in (None, "") and number < Decimal(str(low)):
        raise ValidationError(_("At least %(min)s.") % {"min": low})
    if high not in (None, "") and number > Decimal(str(high)):
        raise ValidationError(_("At most %(max)s.") % {"max": high})
    return number


def _choice_values(spec: Mapping[str, Any]) -> set[str]:
    return set(_choice_values_ordered(spec))


def _choice_values_ordered(spec: Mapping[str, Any]) -> list[str]:
    return [choice["value"] for choice in spec.get("choices", [])]


def _file(spec: Mapping[str, Any], upload: Any) -> dict[str, Any]:
    name, size = str(getattr(upload, "name", "")), getattr(upload, "size", None)
    if not name or not isinstance(size, int):
        raise ValidationError(_("Upload a file."))
    allowed = spec.get("file_types") or []
    extension = re.sub(r"^.*(\.[^.]*)$", r"\1", name.lower()) if "." in name else ""
    if allowed and extension not in allowed:
        raise ValidationError(_("Only these file types: %(types)s.") % {"types": ", ".join(allowed)})
    limit_mb = spec.get("max_size_mb") or DEFAULT_MAX_FILE_MB
    if size > limit_mb * 1024 * 1024:
        raise ValidationError(_("At most %(mb)d MB.") % {"mb": limit_mb})
    return {"name": name.rsplit("/", 1)[-1], "size": size}


def _table(spec: Mapping[str, Any], raw: Any) -> dict[str, Any] | None:
    """Rows of column → value; blank rows dropped; numeric columns as decimals, summed into `totals`."""
    rows = raw.get("rows") if isinstance(raw, Mapping) else raw
    if not isinstance(rows, list) or len(rows) > MAX_TABLE_ROWS:
        raise ValidationError(_("The table could not be read."))
    columns = spec["columns"]
    kept: list[dict[str, str]] = []
    totals = {column["name"]: Decimal(0) for column in columns if column.get("numeric")}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping) or set(row) - {column["name"] for column in columns}:
            raise ValidationError(_("Row %(row)d has cells the table does not have.") % {"row": number})
        if all(_empty(row.get(column["name"])) for column in columns):
            continue
        clean_row: dict[str, str] = {}
        for column in columns:
            cell = row.get(column["name"])
            if column.get("numeric"):
                try:
                    amount = _decimal({}, "0" if _empty(cell) else cell, money=False)
                except ValidationError:
                    raise ValidationError(
                        _("Row %(row)d, “%(column)s”: enter a number.") % {"row": number, "column": column["label"]}
                    ) from None
                totals[column["name"]] += amount
                clean_row[column["name"]] = str(amount)
            else:
                clean_row[column["name"]] = _text({"type": "short_text"}, "" if cell is None else str(cell))
        kept.append(clean_row)
    if not kept:
        return None
    return {"rows": kept, "totals": {name: str(total) for name, total in totals.items()}}
