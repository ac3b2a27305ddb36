"""URLs of organisations' profile pages (mounted at /accounts/organisations/)."""

from django.urls import path

from hub.accounts import views

app_name = "accounts"
urlpatterns = [
    path("<int:pk>/", views.organisation_detail, name="organisation"),
    path("<int:pk>/edit/", views.organisation_edit, name="organisation_edit"),
]
