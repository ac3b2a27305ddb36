"""Paths across languages: events carry default-language paths; readers get theirs (/en/...)."""

from django.conf import settings
from django.urls import translate_url
from django.utils import translation


def path_for_reader(path: str) -> str:
    """`path`, a page's path in the default language, under the active language's prefix.

    A path that is not one of ours (or not resolvable) comes back unchanged.
    """
    reader = translation.get_language()
    with translation.override(settings.LANGUAGE_CODE):  # where an unprefixed path resolves
        return translate_url(path, reader)
