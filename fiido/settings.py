"""Settings for Fiido service desk.

Every value an operator may change is read from the environment here, in one
place, and documented in the README's configuration table. Application modules
read ``django.conf.settings`` at call time, never at import time.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from fiido import redis_config

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_rate(name: str, default: str) -> str:
    """A django-ratelimit rate such as ``20/m`` (count per second, minute, hour or day)."""
    raw = (os.environ.get(name) or default).strip()
    if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", raw):
        raise ImproperlyConfigured(f"{name} must be a rate like 20/m (count/period, period s, m, h or d), got {raw!r}")
    return raw


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
DEBUG = _env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # daphne first: `manage.py runserver` then serves ASGI (streams included).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "fiido",
    "chatbot",
    "workbench",
]

MIDDLEWARE = [
    # First, so they see the whole chain: the request id for log lines
    # (fiido/logs.py) and the latency by URL name (fiido/metrics.py).
    "fiido.logs.RequestContextMiddleware",
    "fiido.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's LocaleMiddleware, with customers' and agents' languages apart (fiido/i18n.py).
    "fiido.i18n.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Sync-only and last: the chain then runs in one thread per request (see its docstring).
    "fiido.ratelimits.LoginRateLimitMiddleware",
]

ROOT_URLCONF = "fiido.urls"
# The event streams, served by fiido.asgi before Django's handler (no
# middleware thread per stream): each entry is an app's list of (regex, endpoint).
STREAM_ROUTES = ["chatbot.streams.stream_routes", "workbench.streams.stream_routes"]
ASGI_APPLICATION = "fiido.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "fiido.i18n.languages",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------
# SQLite by default. WAL lets readers run beside the one writer; IMMEDIATE
# transactions take the write lock at BEGIN, so two workers never deadlock on a
# read-to-write upgrade; the busy timeout makes a writer wait instead of
# failing with "database is locked".
_DATABASE_POOL = _env_bool("DATABASE_POOL", False)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Request threads are a fixed pool (fiido/handler.py), so each keeps its
        # connection; the health check replaces one the database dropped. With
        # DATABASE_POOL a thread borrows a connection per request instead.
        conn_max_age=0 if _DATABASE_POOL else _env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0),
        conn_health_checks=True,
    )
}
_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _DATABASE_POOL:
    # psycopg's pool (Django 5.1+): each process holds at most
    # DATABASE_POOL_MAX_SIZE connections, whatever its thread count; a thread
    # that finds none free waits up to DATABASE_POOL_TIMEOUT seconds.
    if not _POSTGRES:
        raise ImproperlyConfigured("DATABASE_POOL needs PostgreSQL (DATABASE_URL=postgres://...).")
    if os.environ.get("DATABASE_CONN_MAX_AGE", "0") not in {"", "0"}:
        raise ImproperlyConfigured("DATABASE_POOL and DATABASE_CONN_MAX_AGE exclude each other: the pool keeps them.")
    _pool_min = _env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=0)
    _pool_max = _env_int("DATABASE_POOL_MAX_SIZE", 10)
    if _pool_min > _pool_max:
        raise ImproperlyConfigured("DATABASE_POOL_MIN_SIZE must not exceed DATABASE_POOL_MAX_SIZE.")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _pool_min,
        "max_size": _pool_max,
        "timeout": _env_float("DATABASE_POOL_TIMEOUT", 10.0, minimum=0.1),
    }
# Behind PgBouncer in transaction mode a transaction may run on any server
# connection: no server-side cursors (they outlive a transaction), and no
# prepared statements (psycopg's are off by default in Django).
DATABASE_PGBOUNCER = _env_bool("DATABASE_PGBOUNCER", False)
if DATABASE_PGBOUNCER:
    if not _POSTGRES:
        raise ImproperlyConfigured("DATABASE_PGBOUNCER needs PostgreSQL (DATABASE_URL=postgres://...).")
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
# Requests served at once per process (fiido/handler.py); each thread keeps one
# database connection.
WEB_THREADS = _env_int("WEB_THREADS", 16)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, plus a queue for writers within one process (fiido/db/sqlite3).
    DATABASES["default"]["ENGINE"] = "fiido.db.sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # The test database is a file, so daphne workers started by the tests share
    # it; one per test run, so runs side by side never collide.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "TEST_SQLITE_PATH", os.path.join(tempfile.gettempdir(), f"fiido-test-{os.getpid()}.sqlite3")
        )
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Sessions and auth
# ---------------------------------------------------------------------------
# Sessions live in the shared database so every worker sees the same visitor:
# Django's database store, loaded with one plain SELECT (fiido/sessions.py).
SESSION_ENGINE = "fiido.sessions"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_FAILURE_VIEW = "fiido.http.csrf_failure"

# Django's ModelBackend, with the agent flag loaded with the user in one query
# (workbench/backends.py). Django's own stays listed for logins made before it
# (their sessions name it); AgentBackend refuses every login it does not accept.
AUTHENTICATION_BACKENDS = ["workbench.backends.AgentBackend", "django.contrib.auth.backends.ModelBackend"]

LOGIN_URL = "workbench:login"
LOGIN_REDIRECT_URL = "workbench:queue"
LOGOUT_REDIRECT_URL = "workbench:login"

# Django's four validators (create_agent and the admin's password forms run them).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------------------
# Security headers (README "Security"). The streams bypass this middleware;
# fiido.realtime.sse sends their headers itself.
# ---------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a reverse proxy: the proxies' addresses or networks. Only requests
# from them have X-Forwarded-For / X-Forwarded-Proto believed (fiido/proxy.py
# rewrites the ASGI scope, so REMOTE_ADDR and is_secure() follow); nobody
# else can claim another address or HTTPS. Empty: no proxy, headers ignored.
TRUSTED_PROXIES = _env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or network") from None
# With DEBUG off the service is served over HTTPS (directly or behind a proxy
# that sets X-Forwarded-Proto); /healthz stays reachable over plain HTTP for probes.
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)
# No inline script or style anywhere (Django 5.2's admin has none either);
# product images are external http(s) URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "https:", "http:", "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

# ---------------------------------------------------------------------------
# Internationalisation and static files
# ---------------------------------------------------------------------------
# Customers read the shop's languages, agents theirs (fiido/i18n.py); what
# is stored is language-neutral and rendered in each reader's language. Times
# are stored in UTC and shown in each browser's own time zone.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("es", "Español"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("zh-hans", "简体中文"),
]
# Which of LANGUAGES each side may read (README "Languages and time zones").
CUSTOMER_LANGUAGES = _env_list("CUSTOMER_LANGUAGES", ["en", "de", "fr", "it", "es", "nl", "pl"])
AGENT_LANGUAGES = _env_list("AGENT_LANGUAGES", ["en", "zh-hans"])
for _side, _codes in (("CUSTOMER_LANGUAGES", CUSTOMER_LANGUAGES), ("AGENT_LANGUAGES", AGENT_LANGUAGES)):
    _unknown = set(_codes) - {code for code, _name in LANGUAGES}
    if _unknown or LANGUAGE_CODE not in _codes:
        raise ImproperlyConfigured(
            f"{_side} must be languages of LANGUAGES including {LANGUAGE_CODE!r}; unknown: {sorted(_unknown)}"
        )
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Customers' and agents' photos and files (chatbot/attachments.py) live in the
# "attachments" storage: a directory no URL serves (they go out only through
# the access-checked view), or any Django storage backend that several
# machines share, such as S3 through django-storages (README "Photos and files").
ATTACHMENTS_ROOT = os.environ.get("ATTACHMENTS_ROOT") or str(BASE_DIR / "media" / "attachments")
ATTACHMENTS_STORAGE = os.environ.get("ATTACHMENTS_STORAGE", "filesystem")
if ATTACHMENTS_STORAGE == "filesystem":
    _attachments_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Owner-only files and directories: nobody else on the machine reads customers' photos.
        "OPTIONS": {"location": ATTACHMENTS_ROOT, "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    }
elif ATTACHMENTS_STORAGE == "s3":
    # django-storages' S3 backend (pip install "django-storages[s3]"): AWS S3 or
    # any S3-compatible server (MinIO, Ceph, R2...). Private objects, never
    # overwritten; the app streams them through its own access check.
    _attachments_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("ATTACHMENTS_S3_BUCKET", ""),
            "endpoint_url": os.environ.get("ATTACHMENTS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("ATTACHMENTS_S3_REGION") or None,
            "access_key": os.environ.get("ATTACHMENTS_S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("ATTACHMENTS_S3_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("ATTACHMENTS_S3_PREFIX", "attachments"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
    if not _attachments_storage["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("ATTACHMENTS_STORAGE=s3 needs ATTACHMENTS_S3_BUCKET")
else:
    raise ImproperlyConfigured("ATTACHMENTS_STORAGE must be 'filesystem' or 's3'")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": _attachments_storage,
}
WHITENOISE_USE_FINDERS = True  # serve from static/ without a collectstatic step

# ---------------------------------------------------------------------------
# Realtime
# ---------------------------------------------------------------------------
# Redis (fiido/redis_config.py): one server (REDIS_URL, rediss:// for TLS),
# several for fan-out (a comma-separated REDIS_URL), or masters followed
# through failovers by Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_MASTER).
# The channel layer, the cache and the probes all use REDIS_HOSTS.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_SENTINELS = _env_list("REDIS_SENTINELS", [])
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "")
REDIS_PASSWORD = os.environ.get("REDIS_PASSWORD", "")  # the masters' in the Sentinel form
REDIS_SENTINEL_PASSWORD = os.environ.get("REDIS_SENTINEL_PASSWORD", "")
REDIS_SENTINEL_TLS = _env_bool("REDIS_SENTINEL_TLS", False)
REDIS_TLS_CA_FILE = os.environ.get("REDIS_TLS_CA_FILE", "")
REDIS_TLS_CERT_FILE = os.environ.get("REDIS_TLS_CERT_FILE", "")
REDIS_TLS_KEY_FILE = os.environ.get("REDIS_TLS_KEY_FILE", "")
REDIS_HOSTS = redis_config.hosts_from_environ(os.environ)
# Every key and pub/sub channel this deployment uses in Redis starts with this,
# so two deployments sharing one Redis never see each other's events or
# counters (pub/sub ignores the database number in REDIS_URL). The default is
# derived from SECRET_KEY and REDIS_URL's database number (redis_config.default_prefix).
REDIS_PREFIX = os.environ.get("REDIS_PREFIX") or redis_config.default_prefix(SECRET_KEY, REDIS_HOSTS)
# "pubsub" (default) or "core": which channels_redis layer carries events; the
# README's "Channel layer choice" section gives the measurements.
REDIS_CHANNEL_LAYER = os.environ.get("REDIS_CHANNEL_LAYER", "pubsub")
if REDIS_CHANNEL_LAYER not in {"pubsub", "core"}:
    raise ImproperlyConfigured("REDIS_CHANNEL_LAYER must be 'pubsub' or 'core'")
if REDIS_HOSTS and REDIS_CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": REDIS_HOSTS, "prefix": REDIS_PREFIX},
        }
    }
elif REDIS_HOSTS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Each host's socket_timeout is above BZPOPMIN's 5 s (fiido/redis_config.py).
            "CONFIG": {"hosts": REDIS_HOSTS, "prefix": REDIS_PREFIX, "capacity": 1000, "expiry": 30},
        }
    }
else:
    # One process only: events do not cross workers without Redis.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

SSE_HEARTBEAT_SECONDS = _env_int("SSE_HEARTBEAT_SECONDS", 15)
# The most one batch of events may spend on the channel layer, all groups and
# the retry included (fiido.realtime.publish); a write never waits for it.
PUBLISH_TIMEOUT_SECONDS = _env_float("PUBLISH_TIMEOUT_SECONDS", 1.0, minimum=0.05)
MESSAGE_MAX_CHARS = _env_int("MESSAGE_MAX_CHARS", 2000)
# A stream whose client leaves more than this many bytes unread waits for it
# to read; the client resumes with Last-Event-ID. Bounds memory per slow reader.
SSE_SEND_BUFFER_BYTES = _env_int("SSE_SEND_BUFFER_BYTES", 1024 * 1024)
# How long a stream over that limit waits for its client to read before it
# closes the stream.
SSE_SLOW_READER_SECONDS = _env_int("SSE_SLOW_READER_SECONDS", 30)
# Open streams one viewer may hold per worker (fiido/realtime/caps.py); over a
# cap a new stream is refused with 429. Per conversation (a customer's tabs,
# or an agent's of one conversation or of the queue), per client address for
# customers, and per login for agents (an office behind one NAT has many).
SSE_MAX_STREAMS_PER_CONVERSATION = _env_int("SSE_MAX_STREAMS_PER_CONVERSATION", 5)
SSE_MAX_STREAMS_PER_ADDRESS = _env_int("SSE_MAX_STREAMS_PER_ADDRESS", 20)
SSE_MAX_STREAMS_PER_LOGIN = _env_int("SSE_MAX_STREAMS_PER_LOGIN", 30)
# Request bodies larger than this are refused (413) before they are read.
API_MAX_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# The largest photo or file a customer or agent may send (413 above it). The
# two upload paths below accept bodies of this size plus room for the
# multipart envelope; every other request stays within API_MAX_BODY_BYTES.
ATTACHMENT_MAX_BYTES = _env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
UPLOAD_PATHS = [
    r"^/api/sessions/[A-Za-z0-9_-]{1,64}/attachments$",
    r"^/workbench/api/sessions/[A-Za-z0-9_-]{1,64}/attachments$",
]
# Who counts as an agent, named here so the customer app can let agents see a
# conversation's files without importing the workbench (as STREAM_ROUTES names routes).
AGENT_TEST = "workbench.permissions.is_agent"

# ---------------------------------------------------------------------------
# Cache and rate limits (fiido.ratelimits, on django-ratelimit)
# ---------------------------------------------------------------------------
# Counters must be shared by every worker: Redis when one is configured (under
# its own key prefix, beside the channel layer's keys). Without REDIS_URL the
# service is one process anyway (in-memory channel layer), so a process-local
# cache counts exactly.
if REDIS_HOSTS:
    # On the first Redis server (several are shards of the channel layer, and
    # Django's RedisCache would take the others for replicas).
    CACHES = {"default": redis_config.cache_config(REDIS_HOSTS, f"{REDIS_PREFIX}-cache")}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fiido"}}
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True  # a cache outage lets requests through instead of refusing everyone
if os.environ.get("RATELIMIT_IP_META_KEY"):
    # It trusted a header from anyone (security probe, finding 7).
    raise ImproperlyConfigured("RATELIMIT_IP_META_KEY is gone: set TRUSTED_PROXIES to the proxy's address instead.")
RATE_LIMIT_MESSAGES = _env_rate("RATE_LIMIT_MESSAGES", "20/m")  # customer messages per conversation
# Customer messages per client address, over all its conversations: each new
# conversation brings its own RATE_LIMIT_MESSAGES (security probe, finding 5).
RATE_LIMIT_MESSAGES_PER_ADDRESS = _env_rate("RATE_LIMIT_MESSAGES_PER_ADDRESS", "60/m")
RATE_LIMIT_SESSIONS = _env_rate("RATE_LIMIT_SESSIONS", "10/m")  # new conversations per client address
RATE_LIMIT_ESCALATIONS = _env_rate("RATE_LIMIT_ESCALATIONS", "10/h")  # requests for a person per client address
RATE_LIMIT_LOGINS = _env_rate("RATE_LIMIT_LOGINS", "5/m")  # login attempts per address and username
RATE_LIMIT_LOGINS_PER_ADDRESS = _env_rate("RATE_LIMIT_LOGINS_PER_ADDRESS", "20/m")  # whatever the username
# Typing signals per conversation and side (the pages send one every 2 s at most while typing).
RATE_LIMIT_TYPING = _env_rate("RATE_LIMIT_TYPING", "60/m")
# Photos and files per client address, over all its conversations; each one
# also counts as a message against the two message limits above.
RATE_LIMIT_ATTACHMENTS = _env_rate("RATE_LIMIT_ATTACHMENTS", "30/h")

# ---------------------------------------------------------------------------
# The desk: presence, capacity, assignment, typing
# ---------------------------------------------------------------------------
# Live conversations an agent may hold at once (a per-agent value in the admin overrides it).
AGENT_MAX_LIVE = _env_int("AGENT_MAX_LIVE", 5)
# Give each escalation to the online agent with the most room, as soon as one has room.
AUTO_ASSIGN = _env_bool("AUTO_ASSIGN", False)
# Agents see what the customer is typing before it is sent (never the reverse).
TYPING_PREVIEW = _env_bool("TYPING_PREVIEW", False)

# Quiet conversations close themselves (chatbot/idle.py); 0 turns one off.
IDLE_CLOSE_WAITING_MINUTES = _env_int("IDLE_CLOSE_WAITING_MINUTES", 30, minimum=0)
IDLE_CLOSE_LIVE_MINUTES = _env_int("IDLE_CLOSE_LIVE_MINUTES", 60, minimum=0)
IDLE_CLOSE_BOT_HOURS = _env_int("IDLE_CLOSE_BOT_HOURS", 24, minimum=0)
IDLE_WARNING_MINUTES = _env_int("IDLE_WARNING_MINUTES", 5, minimum=0)
# How often each worker runs the idle sweep (fiido/periodic.py); 0: never in-process (use cron
# and `manage.py close_idle_conversations`).
IDLE_SWEEP_SECONDS = _env_int("IDLE_SWEEP_SECONDS", 30, minimum=0)

# Support hours (chatbot/hours.py): "Mon-Fri 09:00-18:00; Sat 10:00-14:00" in SUPPORT_TIME_ZONE,
# minus SUPPORT_HOLIDAYS (YYYY-MM-DD, comma-separated). Empty: always open. Outside them, or
# (SUPPORT_OFFLINE_WITHOUT_AGENTS) while no agent has the workbench open, asking for a person
# leaves a message answered by email.
SUPPORT_HOURS = os.environ.get("SUPPORT_HOURS", "")
SUPPORT_TIME_ZONE = os.environ.get("SUPPORT_TIME_ZONE", "UTC")
SUPPORT_HOLIDAYS = os.environ.get("SUPPORT_HOLIDAYS", "")
SUPPORT_OFFLINE_WITHOUT_AGENTS = _env_bool("SUPPORT_OFFLINE_WITHOUT_AGENTS", True)
# Where the desk is reached from outside: links in emails (the reply to an offline request).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
RESUME_LINK_DAYS = _env_int("RESUME_LINK_DAYS", 14)  # how long an emailed link reopens its conversation
MAIL_SWEEP_SECONDS = _env_int("MAIL_SWEEP_SECONDS", 5, minimum=0)  # how often the outbox is sent

# Email (Django's framework): the console in development, SMTP otherwise.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = _env_int("EMAIL_TIMEOUT", 10)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "")  # for the file backend
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Fiido support <support@localhost>")

# Work each worker process runs every so often, with no scheduler to deploy: (dotted path, seconds).
PERIODIC_JOBS = [
    ("chatbot.idle.sweep", IDLE_SWEEP_SECONDS),
    ("chatbot.mail.send_pending", MAIL_SWEEP_SECONDS),
]

# ---------------------------------------------------------------------------
# Bot
# ---------------------------------------------------------------------------
CHATBOT_BACKEND = os.environ.get("CHATBOT_BACKEND", "chatbot.bots.builtin.BuiltinBot")
CHATBOT_TIMEOUT_SECONDS = _env_float("CHATBOT_TIMEOUT_SECONDS", 20.0, minimum=0.1)
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "")

# ---------------------------------------------------------------------------
# Agent copilot through the same LLM endpoint (chatbot/translation.py, chatbot/copilot.py)
# ---------------------------------------------------------------------------
# Off by default: nothing is sent to the LLM for these unless switched on (README "Agent copilot").
TRANSLATION = _env_bool("TRANSLATION", False)  # customers' messages for agents, agents' for customers
COPILOT = _env_bool("COPILOT", False)  # a summary at take-over, suggested replies
# One LLM call's whole budget; a translation that misses it is retried later, nothing waits for it.
COPILOT_TIMEOUT_SECONDS = _env_float("COPILOT_TIMEOUT_SECONDS", 15.0, minimum=0.1)
# Threads per worker that make the LLM calls, off every request and stream (fiido/background.py).
COPILOT_THREADS = _env_int("COPILOT_THREADS", 2, minimum=1)
# How often missing translations of the last day are asked for again (0: never).
TRANSLATION_RETRY_SECONDS = _env_int("TRANSLATION_RETRY_SECONDS", 60, minimum=0)
PERIODIC_JOBS.append(("chatbot.translation.retry_missing", TRANSLATION_RETRY_SECONDS if TRANSLATION else 0))

# ---------------------------------------------------------------------------
# Orders: where the bot and the agents' customer panel read them
# ---------------------------------------------------------------------------
ORDER_SOURCE = os.environ.get("ORDER_SOURCE", "chatbot.order_sources.local.LocalOrderSource")
# A networked source's whole budget for one look-up, its one retry included.
ORDER_SOURCE_TIMEOUT_SECONDS = _env_float("ORDER_SOURCE_TIMEOUT_SECONDS", 5.0, minimum=0.1)
SHOPIFY_SHOP_DOMAIN = os.environ.get("SHOPIFY_SHOP_DOMAIN", "")  # fiido-uk.myshopify.com
SHOPIFY_ACCESS_TOKEN = os.environ.get("SHOPIFY_ACCESS_TOKEN", "")
SHOPIFY_API_VERSION = os.environ.get("SHOPIFY_API_VERSION", "") or "2026-10"

# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line with the worker, request id and
# conversation (fiido/logs.py); plain: for a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "fiido.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "fiido.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# ---------------------------------------------------------------------------
# Metrics (fiido/metrics.py)
# ---------------------------------------------------------------------------
# GET /metrics answers 404 while this is unset, 401 without
# "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# The worker label of every sample; supervisor sets it per process
# (deploy/supervisord.conf). Unset: <host name>:<pid>.
WORKER_ID = os.environ.get("WORKER_ID", "")
