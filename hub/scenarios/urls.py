"""URLs of hub.scenarios's pages."""

from django.urls import path  # noqa: F401

app_name = "scenarios"
urlpatterns: list = []
