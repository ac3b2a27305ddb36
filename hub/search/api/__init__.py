"""The open API's search endpoint: GET /api/v1/search/."""
