"""Forms of the portal: the policy library's filters."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from hub.cms.models import PolicyLibraryPage, Validity
from hub.cms.selectors import policy_facets

SORT_CHOICES = [("newest", _("Newest first")), ("oldest", _("Oldest first")), ("title", _("By title"))]


class PolicyFilterForm(forms.Form):
    topic = forms.ChoiceField(label=_("Topic"), required=False)
    issuing_body = forms.ChoiceField(label=_("Issuing body"), required=False)
    year = forms.TypedChoiceField(label=_("Year"), required=False, coerce=int, empty_value=None)
    validity = forms.ChoiceField(label=_("Validity"), required=False, choices=[("", _("Any")), *Validity.choices])
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORT_CHOICES)

    def __init__(self, *args: Any, library: PolicyLibraryPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        facets = policy_facets(library=library)
        any_choice: list[tuple[Any, Any]] = [("", _("Any"))]
        self.fields["topic"].choices = any_choice + [(t, t) for t in facets["topics"]]  # type: ignore[attr-defined]
        self.fields["issuing_body"].choices = any_choice + [  # type: ignore[attr-defined]
            (b, b) for b in facets["issuing_bodies"]
        ]
        self.fields["year"].choices = any_choice + [(y, y) for y in facets["years"]]  # type: ignore[attr-defined]


MAX_TEXT_BYTES = 2 * 1024 * 1024


class OfficialTextImportForm(forms.Form):
    """The editor's form for importing a plain-text official document into a policy library."""

    library = forms.ModelChoiceField(queryset=PolicyLibraryPage.objects.none(), label=_("Policy library"))
    file = forms.FileField(label=_("Text file"), required=False, help_text=_("Plain text (.txt), UTF-8 or GB18030"))
    text = forms.CharField(label=_("…or paste the text"), required=False, widget=forms.Textarea(attrs={"rows": 10}))
    index_number = forms.CharField(label="索引号", required=False, max_length=100)
    category = forms.CharField(label="组配分类", required=False, max_length=100)
    issuing_body = forms.CharField(label="发布机构", required=False, max_length=100)
    topic = forms.CharField(label="主题分类", required=False, max_length=100)
    publish_date = forms.DateField(label="发布日期", required=False)

    def __init__(self, *args: Any, libraries: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["library"].queryset = libraries  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload:
            if upload.size > MAX_TEXT_BYTES:
                raise forms.ValidationError(_("The file is larger than 2 MB; is it really plain text?"))
            cleaned["text"] = decode_text(upload.read())
        if not cleaned.get("text", "").strip():
            raise forms.ValidationError(_("Choose a text file or paste the text."))
        return cleaned

    def overrides(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name)
            for name in ("index_number", "category", "issuing_body", "topic", "publish_date")
        }


def decode_text(raw: bytes) -> str:
    """Government sites serve UTF-8 or GB18030 (a superset of GBK); accept both."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise forms.ValidationError(_("The file is neither UTF-8 nor GB18030 text."))
