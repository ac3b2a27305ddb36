"""Websocket routes of every context, gathered in one place for the ASGI router."""

from django.urls import path

from competitions.consumers import LeaderboardStream, SubmissionStream
from hub.notifications.consumers import NotificationStream

websocket_urlpatterns = [
    path("ws/notifications/", NotificationStream.as_asgi()),
    path("ws/competitions/submissions/<int:submission_id>/", SubmissionStream.as_asgi()),
    path("ws/competitions/phases/<int:phase_id>/leaderboard/", LeaderboardStream.as_asgi()),
]
