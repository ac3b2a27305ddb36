"""The site's URLs: admin, CMS admin, health, notifications, API schema, then Wagtail's pages."""

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.contrib.sitemaps.views import sitemap
from wagtail.documents import urls as wagtaildocs_urls

from hub import health
from hub.accounts.views import signup
from hub.cms.cache import serve_cached
from hub.notifications.views import dev_mailbox

# Machine and staff URLs: one address whatever the language.
urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("django-admin/", admin.site.urls),
    path("cms/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("display/", include("hub.cms.display_urls")),
    path("sitemap.xml", sitemap, name="sitemap"),
    path("api/v1/search/", include("hub.search.api.urls")),
    path("api/v1/auth/", include("hub.api.urls")),
    path("api/v1/competitions/", include("competitions.api.urls")),
    path("webhooks/stripe/", include("funds.credit.webhook_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# What people read: Chinese at the root, English under /en/ (the language comes from the path, so a
# link, a bookmark and a cached page all say which language they are in).
urlpatterns += i18n_patterns(
    path("accounts/signup/", signup, name="signup"),
    path("accounts/organisations/", include("hub.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("notifications/", include("hub.notifications.urls")),
    path("dev/mail/", dev_mailbox, name="dev_mailbox"),
    path("scenarios/", include("hub.scenarios.urls")),
    path("search/", include("hub.search.urls")),
    path("competitions/", include("competitions.urls")),
    path("host/competitions/", include("competitions.host_urls")),
    path("funds/manage/", include("funds.manage_urls")),
    path("funds/credit/", include("funds.credit.urls")),
    path("funds/", include("funds.urls")),
    path("", include("hub.cms.urls")),
    # Wagtail's own routes, with its page view wrapped in the anonymous page cache.
    *[pattern for pattern in wagtail_urls.urlpatterns if getattr(pattern, "name", "") != "wagtail_serve"],
    re_path(wagtail_urls.serve_pattern, serve_cached, name="wagtail_serve"),
    prefix_default_language=False,
)
