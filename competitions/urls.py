"""URLs of the competitions' entrant pages (mounted at /competitions/, under the language prefix)."""

from django.urls import path

from competitions import views

app_name = "competitions"
urlpatterns = [
    path("", views.competition_list, name="list"),
    path("<slug:slug>/", views.competition_detail, name="detail"),
    path("<slug:slug>/data/", views.competition_data, name="data"),
    path("<slug:slug>/data/<int:pk>/", views.data_download, name="data_download"),
    path("<slug:slug>/rules/", views.competition_rules, name="rules"),
    path("<slug:slug>/rules/accept/", views.rules_accept, name="rules_accept"),
    path("<slug:slug>/leaderboard/", views.competition_leaderboard, name="leaderboard"),
    path("<slug:slug>/team/", views.team_page, name="team"),
    path("<slug:slug>/submit/", views.submission_create, name="submit"),
    path("<slug:slug>/submissions/", views.submission_list, name="submissions"),
    path("<slug:slug>/submissions/<int:pk>/", views.submission_detail, name="submission"),
    path("<slug:slug>/submissions/<int:pk>/select/", views.submission_select, name="submission_select"),
    path("<slug:slug>/submissions/<int:pk>/cancel/", views.submission_cancel, name="submission_cancel"),
]
