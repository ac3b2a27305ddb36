"""URLs of hub.search's pages: the results page and the search box's autocomplete."""

from django.urls import path

from hub.search import views

app_name = "search"
urlpatterns = [
    path("", views.results, name="results"),
    path("suggest", views.suggestions, name="suggest"),
]
