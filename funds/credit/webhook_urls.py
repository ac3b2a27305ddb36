"""Stripe's webhook, at /webhooks/stripe/: one address, whatever the language."""

from django.urls import path

from funds.credit import views

urlpatterns = [path("", views.stripe_webhook, name="stripe_webhook")]
