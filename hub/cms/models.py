"""Page types of the public portal: home, news, the policy library, announcements, standard pages."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, PageChooserPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from hub.cms.blocks import AttachmentBlock, BodyBlock, heading_anchor

PAGE_SIZE = 20


class SectionMeta:
    """Meta tags of a page that introduces a section: described by its intro."""

    og_type = "website"

    @property
    def meta_description(self) -> str:
        return getattr(self, "intro", "")


class ArticleMeta:
    """Meta tags of a page that is read as an article: described by its summary."""

    og_type = "article"

    @property
    def meta_description(self) -> str:
        return getattr(self, "summary", "")


class HomePage(SectionMeta, Page):
    """The portal's front page: the programme's welcome, what is open elsewhere, the latest news and policies."""

    intro = models.CharField(_("intro"), max_length=300, blank=True)
    body = RichTextField(_("body"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]
    subpage_types = ["cms.NewsIndexPage", "cms.PolicyLibraryPage", "cms.AnnouncementIndexPage", "cms.StandardPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from hub.cms import selectors

        context = super().get_context(request, *args, **kwargs)
        context["latest_news"] = selectors.latest_news(limit=5)
        context["latest_policies"] = selectors.latest_policies(limit=5)
        context["latest_announcements"] = selectors.latest_announcements(limit=5)
        context["highlights"] = selectors.home_highlights()
        return context


class StandardPage(SectionMeta, Page):
    """About pages, contact details, site statements (e.g. the accessibility statement)."""

    intro = models.CharField(_("intro"), max_length=300, blank=True)
    body = StreamField(BodyBlock(), blank=True, verbose_name=_("body"))

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]

    class Meta:
        verbose_name = _("standard page")


class NewsIndexPage(SectionMeta, Page):
    intro = models.CharField(_("intro"), max_length=300, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["cms.NewsArticlePage"]
    parent_page_types = ["cms.HomePage"]

    class Meta:
        verbose_name = _("news index")

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        articles = NewsArticlePage.objects.child_of(self).live().public().order_by("-date", "-id")
        context["page_obj"] = Paginator(articles, PAGE_SIZE).get_page(request.GET.get("page"))
        return context


class NewsArticlePage(ArticleMeta, Page):
    date = models.DateField(_("date"))
    source = models.CharField(_("source"), max_length=100, blank=True)
    summary = models.TextField(_("summary"), max_length=500, blank=True)
    body = StreamField(BodyBlock(), verbose_name=_("body"))

    content_panels = [
        *Page.content_panels,
        FieldRowPanel([FieldPanel("date"), FieldPanel("source")]),
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    parent_page_types = ["cms.NewsIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("news article")


class PolicyLibraryPage(SectionMeta, Page):
    """政策文件库: every policy document, filterable by topic, issuing body, year and validity."""

    intro = models.CharField(_("intro"), max_length=300, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["cms.PolicyDocumentPage"]
    parent_page_types = ["cms.HomePage"]

    class Meta:
        verbose_name = _("policy library")

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from hub.cms import selectors
        from hub.cms.forms import PolicyFilterForm

        context = super().get_context(request, *args, **kwargs)
        form = PolicyFilterForm(request.GET or None, library=self)
        filters = form.cleaned_data if form.is_valid() else {}
        documents = selectors.policy_documents(library=self, **filters)
        context["form"] = form
        context["page_obj"] = Paginator(documents, PAGE_SIZE).get_page(request.GET.get("page"))
        context["querystring"] = _querystring_without_page(request)
        return context


def _querystring_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


DOCUMENT_NUMBER = re.compile(r"^\S+〔\d{4}〕\d+号$")


class Validity(models.TextChoices):
    VALID = "valid", _("Valid")
    AMENDED = "amended", _("Amended")
    REPEALED = "repealed", _("Repealed")
    EXPIRED = "expired", _("Expired")


class PolicyDocumentPage(ArticleMeta, Page):
    """政策文件 with the government disclosure metadata block (政府信息公开)."""

    index_number = models.CharField(_("index number (索引号)"), max_length=100)
    topic = models.CharField(_("topic (主题分类)"), max_length=100)
    category = models.CharField(_("category (组配分类)"), max_length=100)
    issuing_body = models.CharField(_("issuing body (发布机构)"), max_length=100)
    document_number = models.CharField(
        _("document number (发文字号)"), max_length=100, blank=True, help_text=_("e.g. 皖政〔2023〕12号")
    )
    written_date = models.DateField(_("date written (成文日期)"), null=True, blank=True)
    publish_date = models.DateField(_("publication date (发布日期)"))
    validity = models.CharField(_("validity (有效性)"), max_length=10, choices=Validity.choices, default=Validity.VALID)
    replaced_by = models.ForeignKey(
        "cms.PolicyDocumentPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaces",
        verbose_name=_("replaced or amended by"),
    )
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), max_length=1000, blank=True)
    body = StreamField(BodyBlock(), verbose_name=_("body"))
    attachments = StreamField(AttachmentBlock(), blank=True, verbose_name=_("attachments"))

    content_panels = [
        *Page.content_panels,
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("index_number"), FieldPanel("category")]),
                FieldRowPanel([FieldPanel("issuing_body"), FieldPanel("topic")]),
                FieldRowPanel([FieldPanel("document_number"), FieldPanel("written_date"), FieldPanel("publish_date")]),
                FieldRowPanel([FieldPanel("validity"), PageChooserPanel("replaced_by", "cms.PolicyDocumentPage")]),
                FieldPanel("keywords"),
            ],
            heading=_("Disclosure metadata"),
        ),
        FieldPanel("summary"),
        FieldPanel("body"),
        FieldPanel("attachments"),
    ]
    search_fields = [
        *Page.search_fields,
        index.SearchField("summary"),
        index.SearchField("body"),
        index.SearchField("keywords"),
        index.FilterField("topic"),
        index.FilterField("issuing_body"),
        index.FilterField("validity"),
        index.FilterField("publish_date"),
    ]
    parent_page_types = ["cms.PolicyLibraryPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("policy document")
        indexes = [models.Index(fields=["publish_date"], name="policy_publish_date")]

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if self.document_number and not DOCUMENT_NUMBER.match(self.document_number):
            errors["document_number"] = _("Write it as issuer〔year〕number号, e.g. 皖政〔2023〕12号.")
        if self.written_date and self.publish_date and self.written_date > self.publish_date:
            errors["written_date"] = _("A document cannot be written after it was published.")
        if self.index_number and self.locale_id and self._index_number_taken():
            errors["index_number"] = _("A policy document with this index number exists already.")
        if self.replaced_by_id and self.replaced_by_id == self.pk:
            errors["replaced_by"] = _("A document cannot replace itself.")
        if self.replaced_by_id and self.validity == Validity.VALID:
            errors["validity"] = _("A document with a replacement is amended or repealed, not valid.")
        if errors:
            raise ValidationError(errors)

    def _index_number_taken(self) -> bool:
        # Unique within one language (a translation carries its original's number); `locale` lives on
        # Wagtail's page table, so no constraint of this table can say it.
        others = PolicyDocumentPage.objects.filter(index_number=self.index_number, locale_id=self.locale_id)
        return others.exclude(pk=self.pk).exists()

    @property
    def replacement(self) -> Page | None:
        """The live document that replaces this one, in the reader's language where it is translated."""
        if self.replaced_by is None or not self.replaced_by.live:
            return None
        return self.replaced_by.localized

    @property
    def is_in_force(self) -> bool:
        return self.validity in (Validity.VALID, Validity.AMENDED)

    def toc(self) -> list[dict[str, str]]:
        """The headings of the body, for the table of contents."""
        return [
            {
                "level": block.value["level"],
                "text": f"{block.value['number']}{block.value['text']}",
                "anchor": heading_anchor(block.value),
            }
            for block in self.body
            if block.block_type == "heading"
        ]


class AnnouncementIndexPage(SectionMeta, Page):
    intro = models.CharField(_("intro"), max_length=300, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["cms.AnnouncementPage"]
    parent_page_types = ["cms.HomePage"]

    class Meta:
        verbose_name = _("announcement index")

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        announcements = AnnouncementPage.objects.child_of(self).live().public().order_by("-date", "-id")
        context["page_obj"] = Paginator(announcements, PAGE_SIZE).get_page(request.GET.get("page"))
        return context


class AnnouncementPage(ArticleMeta, Page):
    """A competition, fund call or scenario call announced to the public."""

    class Kind(models.TextChoices):
        COMPETITION = "competition", _("Competition")
        FUND_CALL = "fund_call", _("Fund call")
        SCENARIO_CALL = "scenario_call", _("Scenario call")
        NOTICE = "notice", _("Notice")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.NOTICE)
    date = models.DateField(_("date"))
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    link = models.URLField(_("where to take part"), blank=True)
    summary = models.TextField(_("summary"), max_length=500, blank=True)
    body = StreamField(BodyBlock(), verbose_name=_("body"))

    content_panels = [
        *Page.content_panels,
        FieldRowPanel([FieldPanel("kind"), FieldPanel("date"), FieldPanel("deadline")]),
        FieldPanel("link"),
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("summary"), index.SearchField("body")]
    parent_page_types = ["cms.AnnouncementIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("announcement")
