"""The display-preferences endpoint, mounted at /display/ by hub/urls.py."""

from django.urls import path

from hub.cms.display import display_update

app_name = "display"
urlpatterns = [path("", display_update, name="update")]
