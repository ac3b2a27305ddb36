"""Mounted at /api/v1/competitions/ by hub/urls.py."""

from django.urls import path

from competitions.api import views

urlpatterns = [
    path("", views.CompetitionListView.as_view(), name="api-competitions"),
    path("<slug:slug>/", views.CompetitionDetailView.as_view(), name="api-competition"),
    path("<slug:slug>/phases/", views.PhaseListView.as_view(), name="api-phases"),
    path("<slug:slug>/rules/accept/", views.RulesAcceptView.as_view(), name="api-rules-accept"),
    path("<slug:slug>/team/", views.TeamView.as_view(), name="api-team"),
    path("<slug:slug>/team/join/", views.TeamJoinView.as_view(), name="api-team-join"),
    path("<slug:slug>/submissions/", views.SubmissionListView.as_view(), name="api-submissions"),
    path("<slug:slug>/submissions/<int:pk>/", views.SubmissionDetailView.as_view(), name="api-submission"),
    path(
        "<slug:slug>/submissions/<int:pk>/status/", views.SubmissionStatusView.as_view(), name="api-submission-status"
    ),
    path("<slug:slug>/submissions/<int:pk>/final/", views.FinalSelectionView.as_view(), name="api-submission-final"),
    path("<slug:slug>/leaderboard/", views.LeaderboardView.as_view(), name="api-leaderboard"),
]
