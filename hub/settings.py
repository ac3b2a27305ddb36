"""Django settings for Wanzhi, read from the environment (12-factor).

The local stack launcher (infra/stack.py) writes its URLs to an env file; real
environment variables always win over that file, so pointing at a real
PostgreSQL, Redis, Kafka or Elasticsearch is a matter of setting the URL.
"""

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(env.str("WANZHI_ENV_FILE", default=str(BASE_DIR / ".stack" / "stack.env")))
if ENV_FILE.exists():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The default key is for development only; `manage.py check --deploy` flags it.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-wanzhi-development-only-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "hub.accounts",
    "hub.events",
    "hub.notifications",
    "hub.cms",
    "hub.scenarios",
    "hub.search",
    "competitions",
    "funds",
    "funds.credit",
    "services.scorer",
    "wagtail.contrib.forms",
    "wagtail.contrib.simple_translation",
    "wagtail.locales",
    "wagtail.contrib.table_block",
    "wagtail.contrib.sitemaps",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "hub.cms.cache.PageCacheStoreMiddleware",
    "hub.observability.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "hub.i18n.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"
ASGI_APPLICATION = "hub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "hub.cms.display.display_context",
            ],
        },
    },
]

# --- Data and services -------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:15432/wanzhi")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:16379/0")
# The cache lives in its own Redis database, so clearing it never touches Celery's queues or the channel layer.
CACHE_URL = env.str("CACHE_URL", default=urlunsplit(urlsplit(REDIS_URL)._replace(path="/1")))
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # The default capacity of 100 drops pushes under a burst of score updates.
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1500, "expiry": 30},
    }
}

KAFKA_BOOTSTRAP_SERVERS = env.list("KAFKA_BOOTSTRAP_SERVERS", default=["127.0.0.1:19092"])
# Prefixes every topic and consumer group name: lets several deployments (or test runs) share a cluster.
KAFKA_TOPIC_PREFIX = env.str("KAFKA_TOPIC_PREFIX", default="")
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="http://127.0.0.1:19200")
# Prefixes every search index and alias (hub/search/indices.py), like KAFKA_TOPIC_PREFIX for topics.
SEARCH_INDEX_PREFIX = env.str("SEARCH_INDEX_PREFIX", default="wanzhi-")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="http://127.0.0.1:18420")
# Development keys work with the local fake Stripe (localstripe); production sets Stripe's own.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_wanzhi_local")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_wanzhi_local")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_wanzhi_local_development")
# Against the fake Stripe, the payment page takes Stripe's test card numbers itself (and shows a 3-D Secure
# test step); against Stripe, Stripe's Payment Element takes the card in the browser.
STRIPE_TEST_CARDS = env.bool("STRIPE_TEST_CARDS", default="api.stripe.com" not in STRIPE_API_BASE)

# --- Event backbone (hub/events) -----------------------------------------------
EVENTS = {
    # Outbox rows are spread over shards by aggregate key; a relay owns whole shards,
    # which keeps per-key order when several relays run.
    "OUTBOX_SHARDS": env.int("EVENTS_OUTBOX_SHARDS", default=16),
    "RELAY_BATCH_SIZE": env.int("EVENTS_RELAY_BATCH_SIZE", default=1000),
    "CONSUMER_MAX_TRIES": env.int("EVENTS_CONSUMER_MAX_TRIES", default=4),
    "CONSUMER_BACKOFF_SECONDS": env.float("EVENTS_CONSUMER_BACKOFF_SECONDS", default=0.5),
    "SOURCE": env.str("EVENTS_SOURCE", default="urn:wanzhi"),
}

# --- Celery --------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "Asia/Shanghai"
# Where beat keeps its last-run times (services.beat in make run, `celery beat --schedule` elsewhere).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(BASE_DIR / "var" / "celerybeat-schedule")
)
# Scoring jobs run on their own queues (a worker per GPU takes score-gpu; see infra/run.py). Late ack +
# reject on worker lost: a job whose worker process dies goes back to its queue; a submission that fails is
# a finished task (JobFailed), never retried. Each job's soft and hard time limits come from its phase's
# time limit (services.scorer.jobs.job_send).
CELERY_TASK_QUEUES = {name: {"routing_key": name} for name in ("default", "score-cpu", "score-gpu")}
SCORING = {
    # Setup, metrics and reporting around the program's own wall clock: deadline = start + time limit + grace.
    "GRACE_SECONDS": env.int("SCORING_GRACE_SECONDS", default=120),
    "HEARTBEAT_SECONDS": env.float("SCORING_HEARTBEAT_SECONDS", default=10.0),
    # A running job whose heartbeat is older than this lost its worker: the watchdog requeues it.
    "STALE_SECONDS": env.float("SCORING_STALE_SECONDS", default=60.0),
    "MAX_ATTEMPTS": env.int("SCORING_MAX_ATTEMPTS", default=3),
    "PROGRESS_EVERY_SECONDS": env.float("SCORING_PROGRESS_EVERY_SECONDS", default=2.0),
    # Phase time limits above this are cut to it (the sandbox's wall clock too), so the visibility timeout holds.
    "MAX_TIME_LIMIT_SECONDS": env.int("SCORING_MAX_TIME_LIMIT_SECONDS", default=6 * 3600),
}
# Redis hands an unacknowledged message to another worker after `visibility_timeout`. It must exceed the
# longest hard time limit (time limit + 2 × grace), or a job still running would be delivered, and run, twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": SCORING["MAX_TIME_LIMIT_SECONDS"] + 2 * SCORING["GRACE_SECONDS"] + 3600
}
CELERY_BEAT_SCHEDULE = {
    "events-outbox-prune": {"task": "hub.events.tasks.outbox_prune", "schedule": 3600.0},
    "cms-publish-scheduled": {"task": "hub.cms.tasks.publish_scheduled_pages", "schedule": 60.0},
    "scoring-watchdog": {"task": "services.scorer.tasks.watchdog", "schedule": 15.0},
    "credit-statements": {"task": "funds.credit.tasks.statements_announce_last_month", "schedule": 3600.0},
}

# --- Compute credit (funds.credit) ------------------------------------------------
COMPUTE_CREDIT = {
    "CURRENCY": "cny",
    # What an hour of metered compute costs: a GPU hour is the scoring job's wall time on its GPU,
    # a CPU hour the CPU time of its processes.
    "CPU_HOUR_PRICE": Decimal(env.str("COMPUTE_CPU_HOUR_PRICE", default="0.60")),
    "GPU_HOUR_PRICE": Decimal(env.str("COMPUTE_GPU_HOUR_PRICE", default="12.00")),
    "MIN_PURCHASE": Decimal(env.str("COMPUTE_MIN_PURCHASE", default="10.00")),
    "MAX_PURCHASE": Decimal(env.str("COMPUTE_MAX_PURCHASE", default="100000.00")),
}

# --- Auth ----------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages -----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static and media ------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "hub" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Files only permission-checked views hand out (hub.storage.PrivateStorage); never under MEDIA_ROOT.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private")))
# Production serves hashed, compressed files made by collectstatic; development and tests
# serve straight from the app directories, so they need no collectstatic step.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

# --- Wagtail -------------------------------------------------------------------
WAGTAIL_SITE_NAME = "皖智汇 Wanzhi"
WAGTAILADMIN_BASE_URL = SITE_URL
# Wagtail's own Elasticsearch backend relies on copy_to, which the local search server lacks;
# admin search stays on the database, our own search layer talks to Elasticsearch.
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Pages are translated per locale (wagtail.locales, simple_translation); English lives under /en/.
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

# --- API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "hub.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    # Scripts and the `wanzhi` CLI send a token; the site's own pages call the API with their session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["hub.api.throttles.AnonThrottle", "hub.api.throttles.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="600/minute"),
        "user": env.str("API_THROTTLE_USER", default="3000/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wanzhi open API",
    "VERSION": "1",
    # Several models have a `status` or `kind`: one schema name each instead of a hashed one.
    "ENUM_NAME_OVERRIDES": {
        "CompetitionStatusEnum": "competitions.models.Competition.Status",
        "SubmissionStatusEnum": "competitions.models.Submission.Status",
        "SubmissionKindEnum": "competitions.models.Phase.Kind",
    },
}

# --- E-mail --------------------------------------------------------------------
# In development mails are kept in the database and listed at /dev/mail/.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="hub.notifications.mail.DevMailboxBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="皖智汇 Wanzhi <noreply@wanzhi.local>")
DEV_MAILBOX_ENABLED = env.bool("DEV_MAILBOX_ENABLED", default=DEBUG)

# --- Logging -------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "hub.observability.CorrelationIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["correlation"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "kafka": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},  # it logs every request at INFO
    },
}
