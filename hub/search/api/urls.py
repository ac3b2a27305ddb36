"""Mounted at /api/v1/search/ by hub/urls.py."""

from django.urls import path

from hub.search.api.views import SearchView

urlpatterns = [path("", SearchView.as_view(), name="api-search")]
