"""Mounted at /api/v1/auth/ by hub/urls.py."""

from django.urls import path

from hub.api.views import TokenView

urlpatterns = [path("token/", TokenView.as_view(), name="api-token")]
