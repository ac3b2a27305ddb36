"""Wagtail pages for the public portal: home, news, policy documents, announcements."""
