"""Display preferences: the /display/ endpoint, the cookie it keeps, how pages render it, and the
colour schemes' contrast computed from site.css."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from hub.cms.display import COOKIE_MAX_AGE, COOKIE_NAME, SCHEMES, ZOOM_STEPS, Display, display_parse

PAGE = "/accounts/login/"  # any page built on base.html
SITE_CSS = Path(settings.BASE_DIR) / "hub" / "static" / "hub" / "site.css"


def post(client: Client, data: dict[str, str], **headers: str):
    return client.post("/display/", {"next": "/accounts/login/?next=/notifications/", **data}, headers=headers)


def html_tag(client: Client) -> str:
    return re.search(r"<html[^>]*>", client.get(PAGE).content.decode()).group(0)


# --- The endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "cookie"),
    [
        *[({"scheme": scheme}, f"scheme:{scheme}") for scheme in SCHEMES if scheme != "original"],
        ({"zoom": "in"}, "zoom:110"),
        ({"zoom": "175"}, "zoom:175"),
        ({"elder": "on"}, "elder:1"),
        ({"cursor": "on"}, "cursor:1"),
        ({"guide": "on"}, "guide:1"),
    ],
)
def test_each_choice_sets_the_cookie_and_goes_back_to_next(client, data, cookie):
    response = post(client, data)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/notifications/#display-tools"
    morsel = response.cookies[COOKIE_NAME]
    assert morsel.value == cookie
    assert int(morsel["max-age"]) == COOKIE_MAX_AGE
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"


def test_choices_add_up_and_going_back_to_the_defaults_clears_the_cookie(client):
    post(client, {"scheme": "yellow-on-blue"})
    post(client, {"elder": "on"})
    assert client.cookies[COOKIE_NAME].value == "scheme:yellow-on-blue|elder:1"
    post(client, {"scheme": "original"})
    post(client, {"elder": "off"})
    assert client.cookies[COOKIE_NAME].value == ""
    assert client.cookies[COOKIE_NAME]["max-age"] == 0


def test_zoom_steps_up_to_twice_and_back(client):
    for _ in range(len(ZOOM_STEPS) + 2):  # more presses than steps: it stops at 2×
        post(client, {"zoom": "in"})
    assert display_parse(client.cookies[COOKIE_NAME].value).zoom == 200
    post(client, {"zoom": "out"})
    assert display_parse(client.cookies[COOKIE_NAME].value).zoom == 175
    post(client, {"zoom": "reset"})
    assert display_parse(client.cookies[COOKIE_NAME].value).zoom == 100


def test_reset_all_goes_back_to_the_site_as_designed(client):
    post(client, {"scheme": "dark"})
    post(client, {"cursor": "on"})
    post(client, {"reset": "all"})
    assert client.cookies[COOKIE_NAME].value == ""


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_an_off_site_next_goes_home_instead(client, target):
    response = client.post("/display/", {"next": target, "scheme": "dark"})
    assert response.status_code == 302
    assert response["Location"] == "/#display-tools"


def test_unknown_values_change_nothing(client):
    post(client, {"scheme": "dark"})
    post(client, {"scheme": "pink", "zoom": "999", "elder": "maybe", "font": "comic"})
    assert client.cookies[COOKIE_NAME].value == "scheme:dark"


def test_script_gets_the_saved_choices_as_json(client):
    response = post(client, {"zoom": "in"}, Accept="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "display": {"scheme": "original", "zoom": 110, "elder": False, "cursor": False, "guide": False},
        "classes": "zoom-110",
    }
    assert response.cookies[COOKIE_NAME].value == "zoom:110"


def test_get_is_not_allowed(client):
    assert client.get("/display/").status_code == 405


def test_a_post_from_a_cached_page_works_without_a_matching_csrf_token():
    # Cached pages carry another visitor's token; the endpoint only sets the visitor's own cookie.
    response = Client(enforce_csrf_checks=True).post("/display/", {"scheme": "dark"})
    assert response.status_code == 302 and response.cookies[COOKIE_NAME].value == "scheme:dark"


# --- Reading the cookie -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "scheme:pink|zoom:999|elder:yes|cursor:2",
        "zoom:-1|zoom:1e3|zoom:",
        '"><script>alert(1)</script>',
        "scheme:dark" + "|x" * 200,  # too long to be ours
        '{"scheme": "dark"}',
    ],
)
def test_garbage_cookies_are_ignored(client, db, value):
    assert display_parse(value) == Display()
    client.cookies[COOKIE_NAME] = value
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()
    assert "class=" not in html_tag(client)


def test_the_valid_parts_of_a_half_broken_cookie_still_count():
    assert display_parse("scheme:dark|zoom:999|bogus|elder:1") == Display(scheme="dark", elder=True)


def test_the_html_element_carries_the_classes_for_the_cookie(client, db):
    client.cookies[COOKIE_NAME] = "scheme:yellow-on-blue|zoom:150|elder:1|cursor:1"
    assert html_tag(client) == '<html lang="zh-hans" class="scheme-yellow-on-blue zoom-150 elder cursor-large">'


def test_the_toolbar_shows_the_current_choices(client, db):
    client.cookies[COOKIE_NAME] = "scheme:dark|elder:1"
    html = client.get(PAGE).content.decode()
    assert re.search(r'value="dark" class="swatch swatch-dark"\s+aria-pressed="true"', html)
    assert re.search(r'value="original" class="swatch swatch-original"\s+aria-pressed="false"', html)
    assert re.search(r'name="elder" value="off"\s+aria-pressed="true"', html)
    assert re.search(r'name="cursor" value="on"\s+aria-pressed="false"', html)


def test_a_page_without_the_cookie_has_no_display_classes(client, db):
    assert html_tag(client) == '<html lang="zh-hans">'


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        (
            "zh-hans",
            ["无障碍浏览", "文字大小", "放大", "黑底白字", "蓝底黄字", "黄底黑字", "黑底黄字", "长辈版", "大鼠标"],
        ),
        (
            "en",
            [
                "Accessibility",
                "Text size",
                "Larger",
                "White on black",
                "Yellow on blue",
                "Black on yellow",
                "Yellow on black",
                "Elder mode",
                "Large cursor",
            ],
        ),
    ],
)
def test_the_toolbar_speaks_both_languages(client, db, language, labels):
    html = client.get(PAGE if language == "zh-hans" else f"/{language}{PAGE}").content.decode()
    missing = [label for label in labels if label not in html]
    assert not missing, f"not on the {language} page: {missing}"


# --- Contrast of every scheme, from site.css ------------------------------------------------------

# (text, background) pairs that must reach 4.5:1, WCAG 2.1 AA for normal text.
TEXT_PAIRS = [
    ("ink", "bg"),
    ("muted", "bg"),
    ("link", "bg"),
    ("brand", "bg"),
    ("header-ink", "header-bg"),
    ("header-link", "header-bg"),
    ("ink", "panel-bg"),
    ("link", "panel-bg"),
    ("ink", "error-bg"),
    ("error", "bg"),
    ("error", "error-bg"),
    ("field-ink", "field-bg"),
    ("badge-ink", "badge-bg"),
]
# Focus rings and the reading guide (which uses --focus) need 3:1 against what they sit on (WCAG 1.4.11).
RING_PAIRS = [("focus", "bg"), ("focus", "panel-bg"), ("focus-header", "header-bg")]


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _properties(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", block))


def palettes() -> dict[str, dict[str, str]]:
    """Each scheme's custom properties: the :root values, overridden by its html.scheme-* block."""
    css = SITE_CSS.read_text()
    blocks = dict(re.findall(r"^(:root|html\.scheme-[a-z-]+) \{([^}]*)\}", css, flags=re.MULTILINE))
    original = _properties(blocks.pop(":root"))
    return {"original": original} | {
        selector.removeprefix("html.scheme-"): original | _properties(body) for selector, body in blocks.items()
    }


def test_contrast_helper_matches_known_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_site_css_defines_every_scheme_the_toolbar_offers():
    assert set(palettes()) == set(SCHEMES)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_every_scheme_meets_aa_contrast(scheme):
    colours = palettes()[scheme]
    low = [
        f"{fg} on {bg}: {contrast(colours[fg], colours[bg]):.2f}"
        for pairs, minimum in ((TEXT_PAIRS, 4.5), (RING_PAIRS, 3.0))
        for fg, bg in pairs
        if contrast(colours[fg], colours[bg]) < minimum
    ]
    assert not low, f"{scheme}: {low}"


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_each_scheme_button_previews_its_own_colours(scheme):
    rule = re.search(rf"\.swatch-{scheme} \{{ background: (#\w+); color: (#\w+);", SITE_CSS.read_text())
    assert rule, f"no swatch rule for {scheme}"
    background, ink = rule.groups()
    assert (background, ink) == (palettes()[scheme]["bg"], palettes()[scheme]["ink"])
