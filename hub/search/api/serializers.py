"""Shapes of the search API's answers (they also document it in /api/schema/)."""

from rest_framework import serializers


class HitSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="scenarios, pages or organisations")
    id = serializers.CharField()
    title = serializers.CharField()
    title_html = serializers.CharField(help_text="The title, HTML-escaped, with matches in <mark>.")
    title_en_html = serializers.CharField(help_text="The English title likewise, or empty.")
    snippet_html = serializers.CharField(help_text="A fragment of the text, HTML-escaped, with matches in <mark>.")
    url = serializers.CharField(help_text="Path of the item on this site; empty where it has no page.")
    date = serializers.CharField(allow_null=True)
    fields = serializers.DictField(help_text="Facet values of the item: sector, city, status, deadline, …")


class FacetBucketSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(allow_null=True, help_text="Null when not counted (degraded mode).")
    selected = serializers.BooleanField()


class FacetSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The query parameter that filters by it.")
    label = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    buckets = FacetBucketSerializer(many=True)


class SearchResultsSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The query as searched (control characters removed, cut at 200).")
    kind = serializers.CharField(allow_null=True)
    filters = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    sort = serializers.CharField()
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    pages = serializers.IntegerField(help_text="Pages that can be read (the first 10,000 results).")
    total = serializers.IntegerField(help_text="Matches in the chosen tab (counted up to 10,000).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Matches per kind, for tabs.")
    facets = FacetSerializer(many=True)
    results = HitSerializer(many=True, source="hits")
    did_you_mean = serializers.CharField(allow_null=True)
    notices = serializers.ListField(child=serializers.CharField())
    degraded = serializers.BooleanField(
        help_text="True when the search cluster could not answer: unranked database results, no highlighting."
    )


class SearchErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The parameter that cannot be used.")
    detail = serializers.CharField()
