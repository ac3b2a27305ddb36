"""Compute credit pages under /funds/credit/ (and /en/funds/credit/); the webhook has no language prefix."""

from django.urls import path

from funds.credit import views

app_name = "funds_credit"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("organisations/<int:pk>/", views.account, name="account"),
    path("organisations/<int:pk>/statements/<str:month>/", views.statement, name="statement"),
    path("organisations/<int:pk>/statements/<str:month>.csv", views.statement_csv, name="statement_csv"),
    path("purchases/<uuid:purchase_id>/", views.purchase, name="purchase"),
    path("purchases/<uuid:purchase_id>/pay/", views.purchase_pay, name="pay"),
    path("purchases/<uuid:purchase_id>/authenticate/", views.purchase_authenticate, name="authenticate"),
    path("programmes/<int:pk>/", views.programme, name="programme"),
]
