"""Languages: pages take theirs from the path (/en/...), the API from Accept-Language; events carry
default-language paths and readers get theirs."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import translate_url
from django.utils import translation
from django.utils.cache import patch_vary_headers


def path_for_reader(path: str) -> str:
    """`path`, a page's path in the default language, under the active language's prefix.

    A path that is not one of ours (or not resolvable) comes back unchanged.
    """
    reader = translation.get_language()
    with translation.override(settings.LANGUAGE_CODE):  # where an unprefixed path resolves
        return translate_url(path, reader)


class ApiLanguageMiddleware:
    """API clients choose their language with Accept-Language (or the cookie).

    LocaleMiddleware gives every path outside i18n_patterns the default language, which suits
    admin and health URLs but not a third party's client: under /api/ the request negotiates.
    Comes right after LocaleMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/"):
            return self.get_response(request)
        language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language",))
        return response
