"""In-app notifications, e-mail preferences and deliveries; written by the notifier service only."""
