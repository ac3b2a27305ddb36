"""The fund managers' and reviewers' pages, under funds/manage/ (mounted before the applicants' funds/)."""

from django.urls import path

from funds import manage_views

app_name = "funds_manage"

urlpatterns = [
    path("", manage_views.home, name="home"),
    path("funds/<int:fund_id>/calls/new/", manage_views.call_create, name="call_create"),
    path("calls/<int:call_id>/", manage_views.call_edit, name="call"),
    path("calls/<int:call_id>/dashboard/", manage_views.dashboard, name="dashboard"),
    path("calls/<int:call_id>/bulk/", manage_views.bulk, name="bulk"),
    path("calls/<int:call_id>/export.csv", manage_views.export, {"fmt": "csv"}, name="export_csv"),
    path("calls/<int:call_id>/export.xlsx", manage_views.export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("applications/<int:application_id>/", manage_views.application, name="application"),
    path("reviews/", manage_views.assignments, name="assignments"),
    path("reviews/<int:application_id>/", manage_views.review, name="review"),
]
