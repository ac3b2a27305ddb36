from django.urls import path

from hub.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("read/", views.notification_mark_read, name="mark_read"),
    path("preferences/", views.email_preferences, name="preferences"),
]
