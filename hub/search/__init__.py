"""The Elasticsearch layer: index definitions, indexing, queries and the search pages and API."""
