"""The applicants' pages of funds, under /funds/ (and /en/funds/)."""

from django.urls import path

from funds import views

app_name = "funds"
urlpatterns = [
    path("", views.call_list, name="calls"),
    path("calls/<int:pk>/", views.call_detail, name="call"),
    path("calls/<int:pk>/apply/", views.call_apply, name="apply"),
    path("applications/", views.application_list, name="applications"),
    path("applications/<int:pk>/", views.application_detail, name="application"),
    path("applications/<int:pk>/step/<int:step>/", views.application_step, name="step"),
    path("applications/<int:pk>/step/<int:step>/autosave/", views.application_autosave, name="autosave"),
    path("applications/<int:pk>/review/", views.application_review, name="review"),
    path("applications/<int:pk>/receipt/", views.application_receipt, name="receipt"),
    path("applications/<int:pk>/receipt.pdf", views.application_receipt_pdf, name="receipt_pdf"),
    path("applications/<int:pk>/withdraw/", views.application_withdraw, name="withdraw"),
    path("applications/<int:pk>/co-applicants/", views.application_co_applicants, name="co_applicants"),
    path("applications/<int:pk>/files/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
