"""The portal's home page as the site root, in place of Wagtail's placeholder 'Welcome' page."""

from collections.abc import Iterator

from django.db import transaction
from wagtail.models import Page, Site

from hub.cms.models import HomePage


def load() -> Iterator[str]:
    with transaction.atomic():
        home = HomePage.objects.first()
        if home is None:
            # Wagtail's first migration leaves a plain Page with the slug 'home' as the site root.
            Page.objects.filter(depth=2, content_type__model="page", slug="home").delete()
            home = HomePage(
                title="皖智汇 · 通用人工智能开放平台",
                slug="home",
                intro="汇聚算力、数据、场景与资金，服务全省通用人工智能创新发展。",
            )
            Page.get_first_root_node().add_child(instance=home)
            home.save_revision().publish()
            Site.objects.update_or_create(
                is_default_site=True, defaults={"root_page": home, "hostname": "localhost", "site_name": "皖智汇"}
            )
    yield f"  home page  {home.title}"
