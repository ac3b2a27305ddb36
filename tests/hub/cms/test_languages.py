"""Chinese at the root, English under /en/: pages, their translations and the language links."""

import re

import pytest
from django.utils import translation

from hub.cms import demo, selectors
from tests.hub.cms import pages

pytestmark = pytest.mark.django_db


def language_links(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="lang".*?</nav>', html, re.S).group(0)
    return {language: href for href, language in re.findall(r'<a href="([^"]+)" hreflang="([^"]+)"', nav)}


def test_the_demo_portal_reads_in_english_under_en(client):
    pages.demo_portal()
    home = client.get("/en/").content.decode()
    assert '<html lang="en"' in home
    assert "Wanzhi · General AI Open Platform" in home
    assert '<a href="/en/policies/">Policies</a>' in home  # the menu in the page's language
    assert "皖智汇平台上线试运行" not in home and "Wanzhi opens for a trial run" in home

    plan = demo.PolicyDocumentPage.objects.get(index_number=demo.ACTION_PLAN_INDEX, locale__language_code="en")
    html = client.get(plan.url).content.decode()
    assert plan.url.startswith("/en/policies/")
    assert demo.ACTION_PLAN_ENGLISH["title"] in html and "宣城市科学技术局" in html


def test_each_page_links_to_its_translation_or_else_to_that_languages_home(client):
    home = pages.home()
    library = pages.policy_library(home)
    translated = pages.policy_document(library, title="已译文件")
    untranslated = pages.policy_document(library, title="未译文件")
    english = pages.translate(translated, title="Translated document")

    links = language_links(client.get(translated.url).content.decode())
    assert links == {"zh-hans": translated.url, "en": english.url}
    assert language_links(client.get(english.url).content.decode())["zh-hans"] == translated.url
    assert language_links(client.get(untranslated.url).content.decode())["en"] == "/en/"
    html = client.get(translated.url).content.decode()
    assert f'<link rel="alternate" hreflang="en" href="{english.url}">' in html


def test_other_pages_keep_their_path_under_each_language(client, db):
    path = "/accounts/login/?next=/notifications/"
    links = language_links(client.get(path).content.decode())
    assert links == {"zh-hans": path, "en": f"/en{path}"}
    assert "Sign in" in client.get(links["en"]).content.decode()


def test_lists_and_feeds_show_the_readers_language_only(client):
    news = pages.news_index(pages.home())
    chinese = pages.news_article(news, title="中文新闻")
    pages.translate(chinese, title="English news")
    with translation.override("en"):
        assert [page.title for page in selectors.latest_news()] == ["English news"]
    with translation.override("zh-hans"):
        assert [page.title for page in selectors.latest_news()] == ["中文新闻"]
    assert "English news" in client.get("/en/feeds/news/rss/").content.decode()
    assert "English news" not in client.get("/feeds/news/rss/").content.decode()
