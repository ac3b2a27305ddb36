"""URLs of the hosts' competition pages (mounted at /host/competitions/, under the language prefix)."""

from django.urls import path

from competitions import host_views as views

app_name = "competitions_host"
phase = "<slug:slug>/phases/<int:phase_id>/"
urlpatterns = [
    path("", views.competition_list, name="list"),
    path("new/", views.competition_create, name="create"),
    path("import/", views.bundle_import, name="import"),
    path("<slug:slug>/", views.competition_edit, name="edit"),
    path("<slug:slug>/audit/", views.audit_log, name="audit"),
    path("<slug:slug>/bundle.zip", views.bundle_export, name="export"),
    path("<slug:slug>/phases/new/", views.phase_create, name="phase_create"),
    path(phase, views.phase_edit, name="phase"),
    path(f"{phase}close/", views.phase_close, name="phase_close"),
    path(f"{phase}submissions/", views.submission_list, name="submissions"),
    path(
        f"{phase}submissions/<int:pk>/<str:action>/",
        views.submission_action,
        name="submission_action",
    ),
    path(f"{phase}analytics/", views.analytics, name="analytics"),
    path(f"{phase}leaderboard.csv", views.leaderboard_csv, name="leaderboard_csv"),
    path(f"{phase}submissions.csv", views.submissions_csv, name="submissions_csv"),
    path(f"{phase}submissions.zip", views.submissions_zip, name="submissions_zip"),
]
