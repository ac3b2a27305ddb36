"""The search read model: every document as indexed, with its version; the authority Elasticsearch follows."""

from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KT

# Every write of a document takes the next value, so a reindex can tell which rows changed after a point
# (see hub/search/rebuild.py); created by the app's first migration.
CHANGE_SEQUENCE = "search_document_change_seq"


class SearchDocument(models.Model):
    """One searchable document of one kind, at its latest version.

    A row is only ever replaced by a higher version (hub/search/services.py), so events may arrive
    late, twice or out of order. A withdrawn document stays as a tombstone (`deleted`) to keep its
    version: an older event can then never bring it back.
    """

    kind = models.CharField(max_length=50)
    doc_id = models.CharField(max_length=200)
    version = models.BigIntegerField()
    source = models.JSONField(help_text="The document exactly as it is sent to Elasticsearch.")
    deleted = models.BooleanField(default=False)
    indexed_version = models.BigIntegerField(
        null=True, blank=True, help_text="The version Elasticsearch acknowledged; below `version` means pending."
    )
    updated_at = models.DateTimeField()
    change_seq = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "doc_id"], name="search_document_once_per_kind")]
        indexes = [
            # The indexer's catch-up loop reads the rows Elasticsearch does not hold yet; few at any time.
            models.Index(
                fields=["id"],
                name="search_document_pending",
                condition=Q(indexed_version__isnull=True) | Q(indexed_version__lt=F("version")),
            ),
            models.Index(fields=["kind", "change_seq"], name="search_document_changes"),
            # recent_documents(): the newest live documents of a kind.
            models.Index(
                F("kind"), KT("source__date").desc(), name="search_document_recent", condition=Q(deleted=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.doc_id} v{self.version}{' (deleted)' if self.deleted else ''}"

    @property
    def pending(self) -> bool:
        return self.indexed_version is None or self.indexed_version < self.version
