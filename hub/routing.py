"""Websocket routes of every context, gathered in one place for the ASGI router."""

from django.urls import path

from hub.notifications.consumers import NotificationStream

websocket_urlpatterns = [
    path("ws/notifications/", NotificationStream.as_asgi()),
]
