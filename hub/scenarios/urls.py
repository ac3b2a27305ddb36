"""URLs of hub.scenarios's pages (mounted at /scenarios/)."""

from django.urls import path

from hub.scenarios import views

app_name = "scenarios"
urlpatterns = [
    # the public
    path("", views.scenario_list, name="list"),
    path("<int:pk>/", views.scenario_detail, name="detail"),
    # the publisher's desk
    path("manage/", views.scenario_manage, name="manage"),
    path("manage/new/", views.scenario_create, name="create"),
    path("manage/new/autosave/", views.scenario_autosave, name="autosave"),
    path("manage/<int:pk>/edit/", views.scenario_edit, name="edit"),
    path("manage/<int:pk>/autosave/", views.scenario_autosave, name="edit_autosave"),
    path("manage/<int:pk>/publish/", views.scenario_publish, name="publish"),
    path("manage/<int:pk>/status/", views.scenario_set_status, name="set_status"),
    path("manage/<int:pk>/withdraw/", views.scenario_withdraw, name="withdraw"),
    path("manage/<int:pk>/proposals/", views.scenario_proposals, name="proposals"),
    # the startup's proposals, and the publisher's decisions on them
    path("<int:pk>/propose/", views.proposal_form, name="propose"),
    path("<int:pk>/propose/autosave/", views.proposal_autosave, name="propose_autosave"),
    path("proposals/", views.proposal_list, name="my_proposals"),
    path("proposals/<int:pk>/", views.proposal_detail, name="proposal_detail"),
    path("proposals/<int:pk>/withdraw/", views.proposal_withdraw, name="proposal_withdraw"),
    path("proposals/<int:pk>/shortlist/", views.proposal_decide, {"action": "shortlist"}, name="proposal_shortlist"),
    path("proposals/<int:pk>/decline/", views.proposal_decide, {"action": "decline"}, name="proposal_decline"),
    path("proposals/<int:pk>/award/", views.proposal_decide, {"action": "award"}, name="proposal_award"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
]
