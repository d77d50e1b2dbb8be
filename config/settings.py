"""Django settings. Every value comes from the environment through ``config.env.Env``.

Development defaults are safe: SQLite, no Redis (in-memory channel layer, eager Celery), DEBUG
off. ``make demo`` turns DEBUG on and writes generated secrets into ``.haven-keys.env``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env(keyfile=Path(Env().str("HAVEN_KEYFILE", str(BASE_DIR / ".haven-keys.env"))))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it in the environment, or run `make keys` to write a "
        "development key file."
    )

# Master keys (KEKs) for the vault: "kid:base64key" items, newest first. Parsed and checked by
# inbox.vault at app start-up; refusing to start here gives the clearest error.
HAVEN_MASTER_KEYS = env.str("HAVEN_MASTER_KEYS")
if not HAVEN_MASTER_KEYS:
    raise ImproperlyConfigured(
        "HAVEN_MASTER_KEYS is not set. Haven refuses to start without a master key. Set it, or "
        "run `make keys` to write a development key file."
    )
# Pepper for secret hashes and blind indexes. Never stored in the database.
HAVEN_PEPPER = env.str("HAVEN_PEPPER")
if not HAVEN_PEPPER:
    raise ImproperlyConfigured(
        "HAVEN_PEPPER is not set. Set it, or run `make keys` to write a development key file."
    )

HAVEN_BASE_URL = env.str("HAVEN_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
HAVEN_ORGANISATION_NAME = env.str("HAVEN_ORGANISATION_NAME", "Haven demo company")
HAVEN_PRIVACY_NOTICE_URL = env.str("HAVEN_PRIVACY_NOTICE_URL", "")
# Points every connector at another host (the platform simulator in the demo and tests).
HAVEN_PLATFORM_BASE_URL = env.str("HAVEN_PLATFORM_BASE_URL", "") or None
# Seconds every platform call may take (connect and read).
HAVEN_PLATFORM_TIMEOUT = env.int("HAVEN_PLATFORM_TIMEOUT", 10)
# An outbox claim older than this is from a dead worker: the sweeper reconciles it.
HAVEN_STALE_CLAIM_SECONDS = env.int("HAVEN_STALE_CLAIM_SECONDS", 120)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [HAVEN_BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # single-use backup codes (printed by the demo)
    "channels",
    "inbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "inbox.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "inbox.sessions.SessionPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "inbox.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env.str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'haven.sqlite3'}"),
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 0),
        # A kept connection may have outlived a database restart: check it before reuse.
        conn_health_checks=env.int("DATABASE_CONN_MAX_AGE", 0) > 0,
    )
}
# PostgreSQL connection pool (psycopg_pool) for the web processes. Under ASGI each request runs
# its sync code in a thread of its own, so a persistent connection (CONN_MAX_AGE) is never
# reused and every request pays for a new one; the pool hands over an open connection instead.
# Off (0) by default: Celery's prefork workers close the pool around every task, where it only
# costs, and code that opens connections in threads of its own must close them to give them
# back. The pool replaces persistent connections, so it sets CONN_MAX_AGE to 0.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", 0)
if DATABASE_POOL_MAX_SIZE > 0:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_POOL_MAX_SIZE needs PostgreSQL: set DATABASE_URL to postgres://… or set "
            "DATABASE_POOL_MAX_SIZE to 0."
        )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A pooled connection may have outlived a database restart: check it on hand-over (one
    # empty query on an open connection).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": 10,  # seconds a request waits for a free connection before it fails
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the demo's web and traffic threads share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # Writers take the lock when their transaction starts and wait for it, instead
            # of failing with "database is locked" when a read upgrades to a write.
            "transaction_mode": "IMMEDIATE",
        }
    )
    # A file, not memory, so live-server tests share it; per process, so parallel runs don't.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-haven-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL")
REDIS_PREFIX = env.str("HAVEN_REDIS_PREFIX", "haven")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_PREFIX},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery (SECURITY-DESIGN.md §7). Without REDIS_URL tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# Keep database connections between tasks (config/celery.py closes them as CONN_MAX_AGE says);
# Celery's fixup still closes them after this many tasks.
CELERY_DB_REUSE_MAX = 1000
# Retry countdowns stay below this, so a delayed task is never redelivered early.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A broker that is down must not hang a request: publish fails fast and the sweeper recovers.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# Platform calls wait on the network, not on the CPU: they have a queue of their own. Every
# worker consumes both queues unless told otherwise (-Q), so a plain `celery worker` does all
# the work; a threads-pool worker on "outbox" alone (docker-compose's `outbox`) keeps many
# calls in flight without a process per call (docs/pipeline.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue("celery"), Queue("outbox")]
CELERY_TASK_ROUTES = {
    "inbox.perform_action": {"queue": "outbox"},
    "inbox.perform_actions": {"queue": "outbox"},
    "inbox.delete_public_reply": {"queue": "outbox"},
}
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "poll-due-channels": {"task": "inbox.poll_due_channels", "schedule": 10.0},
    "sweep": {"task": "inbox.sweep", "schedule": 30.0},
    "purge-expired": {"task": "inbox.purge_expired", "schedule": 24 * 60 * 60.0},
    "sweep-reply-deletions": {"task": "inbox.sweep_reply_deletions", "schedule": 60.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox:list"
LOGOUT_REDIRECT_URL = "login"

# Sessions (SECURITY-DESIGN.md §4): 30 min idle, 12 h absolute (enforced by middleware).
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
HAVEN_SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60

SECURE_COOKIES = env.bool("HAVEN_SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if SECURE_COOKIES:
    # __Host- cookies must be Secure, host-only and Path=/: no subdomain can overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Preloading commits the whole registrable domain to HTTPS in every browser, irreversibly for
# months: that is the operator's decision (DJANGO_HSTS_PRELOAD), not a default we impose.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# A page must not break because collectstatic has not run yet (tests, a fresh checkout).
WHITENOISE_MANIFEST_STRICT = False

EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", "support@haven.invalid")
# Django's error mails would carry request data: off (SECURITY-DESIGN.md §8).
ADMINS: list[tuple[str, str]] = []
DEFAULT_EXCEPTION_REPORTER_FILTER = "inbox.log_filters.HavenExceptionReporterFilter"

LOG_LEVEL = env.str("HAVEN_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub_portal_paths": {"()": "inbox.log_filters.ScrubPortalPathsFilter"},
        "access_log": {"()": "inbox.log_filters.AccessLogFilter"},
        "server_errors": {"()": "inbox.log_filters.ServerErrorLogFilter"},
    },
    "formatters": {
        # An exception prints as its class and frames, never its message (SECURITY-DESIGN.md §8):
        # that covers logger.exception anywhere, Celery's "raised unexpected: <repr>" lines and
        # uvicorn's "Exception in ASGI application" (config/asgi.py). config/celery.py makes
        # Celery workers and beat use it too.
        "plain": {
            "class": "inbox.log_filters.SafeConsoleFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub_portal_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own logging config gives "django" a DEBUG-only console handler and
        # "mail_admins", which print exception messages and mail tracebacks with request data:
        # no handlers here drops them, and its records reach ours through the root logger.
        "django": {"handlers": [], "level": "INFO"},
        # A 5xx line keeps method, route pattern, status and exception class: no exception
        # message and no traceback, which can carry personal data (SECURITY-DESIGN.md §8).
        "django.request": {"level": "ERROR", "filters": ["server_errors"]},
        # runserver's access log: no query string, no link secret.
        # Django's own handler for it is dropped by this entry: name ours, or runserver is mute.
        "django.server": {
            "handlers": ["console"],
            "level": "INFO",
            "filters": ["access_log"],
            "propagate": False,
        },
        # uvicorn's loggers are not configured here: configuring "uvicorn.access" (or its parent
        # "uvicorn", which resets its children) would give it a handler and so switch uvicorn's
        # access log back on under --no-access-log (docker-compose.yml). config/asgi.py puts
        # AccessLogFilter on it for when it is on, and sends uvicorn's other lines ("Exception in
        # ASGI application") to the console handler above.
        # At DEBUG these log request URLs, and Graph carries the page token in the query.
        "urllib3": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
    },
}

# Error reporting (SECURITY-DESIGN.md §8): off unless SENTRY_DSN is set. config/sentry.py keeps
# personal data, request bodies, headers, cookies, query strings and URL secrets out of events.
SENTRY_DSN = env.str("SENTRY_DSN")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", "production")
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)

# Every variable this module read: a test checks docker-compose.yml and .env.example against it.
HAVEN_ENV_VARIABLES_READ = frozenset(env.read | {"HAVEN_KEYFILE"})
