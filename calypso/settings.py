"""Calypso settings: every knob comes from the environment (django-environ) with a typed default.

Read order: process environment, then ``CALYPSO_ENV_FILE`` (default ``/etc/calypso/calypso.env`` on
an appliance, ``.env`` in a checkout). Defaults give an embedded setup: SQLite under the data
folder and a local Redis.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
_env_file = os.environ.get("CALYPSO_ENV_FILE") or (
    "/etc/calypso/calypso.env" if Path("/etc/calypso/calypso.env").exists() else str(BASE_DIR / ".env"))
if Path(_env_file).exists():
    env.read_env(_env_file)

DATA_DIR = Path(env("CALYPSO_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
RUN_DIR = DATA_DIR / "run"
# The data folder holds the database, sessions, secrets and logs: only the portal's own user may read it.
# Every file a portal process creates is 0600 in folders 0700, and an existing folder gets those modes back.
os.umask(0o077)


def _make_private(path: Path, device: int) -> None:
    """Folders 0700, files 0600, under ``path`` (symlinks and other file systems mounted inside left alone)."""
    import stat

    try:  # another portal process may be removing a file (a pid file, a journal) meanwhile
        st = path.lstat()
        if st.st_dev != device or stat.S_ISLNK(st.st_mode):
            return
        if stat.S_ISDIR(st.st_mode):
            if stat.S_IMODE(st.st_mode) & 0o077:
                path.chmod(0o700)
            for child in path.iterdir():
                _make_private(child, device)
        elif stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(st.st_mode) & 0o700)
    except FileNotFoundError:
        pass


DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
for _sub in ("db", "run", "log", "secrets"):
    (DATA_DIR / _sub).mkdir(mode=0o700, exist_ok=True)
_make_private(DATA_DIR, DATA_DIR.stat().st_dev)

VERSION = "0.1.0"


def _secret(name: str, filename: str, length: int = 50) -> str:
    """A secret from the environment, or one generated once and kept under the data folder."""
    value = env(name, default="")
    if value:
        return value
    path = DATA_DIR / "secrets" / filename
    if not path.exists():
        import secrets as _s

        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(_s.token_urlsafe(length))
    return path.read_text().strip()


SECRET_KEY = _secret("CALYPSO_SECRET_KEY", "django_secret_key")
# Key for secrets at rest (Fernet, base64 32 bytes); on an appliance it lives in /etc/calypso/secrets.env.
CALYPSO_ENCRYPTION_KEYS = [k for k in env.list("CALYPSO_ENCRYPTION_KEYS", default=[]) if k]
CALYPSO_ENCRYPTION_KEY_FILE = DATA_DIR / "secrets" / "encryption.key"
DEBUG = env.bool("CALYPSO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("CALYPSO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# Origins (scheme://host[:port]) besides the portal's own that may post forms and open WebSockets,
# e.g. https://calypso.example.com behind a TLS proxy. Matched exactly.
CSRF_TRUSTED_ORIGINS = env.list("CALYPSO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "apps.audit.middleware.csrf_failure"
# Proxies (addresses or networks) whose X-Forwarded-For and X-Request-ID are believed; none by default,
# so the client's address is the TCP peer's.
CALYPSO_TRUSTED_PROXIES = env.list("CALYPSO_TRUSTED_PROXIES", default=[])

INSTALLED_APPS = [
    "apps.system.admin_config.CalypsoAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.jobs",
    "apps.system",
    "apps.storage",
    "apps.backup",
    "apps.shares",
    "apps.iscsi",
    "apps.monitoring",
    "apps.tape",
    "apps.bacula",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.middleware.SecurityHeaders",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.middleware.SyncChain",  # last: the chain runs in one thread under ASGI (see its docstring)
]

ROOT_URLCONF = "calypso.urls"
ASGI_APPLICATION = "calypso.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# Database: SQLite under the data folder unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db' / 'calypso.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("CALYPSO_DB_POOL", default=True):
    # Under ASGI persistent connections leak (each request's sync code runs in a new thread):
    # use psycopg's pool and CONN_MAX_AGE=0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("CALYPSO_DB_POOL_MIN", default=2),
        "max_size": env.int("CALYPSO_DB_POOL_MAX", default=20),
        "timeout": 10,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker, beat and web write to one file. WAL lets readers run beside the one writer; every write
    # transaction takes the write lock when it begins (IMMEDIATE), so it waits up to ``timeout`` seconds
    # for another writer instead of failing at once with "database is locked" when a transaction that
    # read first upgrades to writing after another commit (a deferred one cannot wait there).
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": env.float("CALYPSO_SQLITE_TIMEOUT_S", default=30.0),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": env("CALYPSO_CACHE_PREFIX", default="calypso")}}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # No socket timeout: redis-py's default equals channels_redis's blocking wait, which drops
        # WebSockets that receive nothing for five seconds.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                   "prefix": env("CALYPSO_CHANNEL_PREFIX", default="calypso"),
                   # Messages a channel holds before new ones are refused (job events: one reader a process).
                   "capacity": env.int("CALYPSO_CHANNEL_CAPACITY", default=1000)},
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["apps.accounts.guard.GuardedModelBackend", "guardian.backends.ObjectPermissionBackend"]
# argon2id; older hashes still verify and are upgraded on the next successful sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
# Failed sign-ins allowed per account and address (and per address over all accounts) before each
# further attempt waits 1, 2, 4, ... s (at most 15 minutes).
CALYPSO_SIGNIN_FREE_FAILURES = env.int("CALYPSO_SIGNIN_FREE_FAILURES", default=5)
CALYPSO_SIGNIN_FREE_FAILURES_PER_ADDRESS = env.int("CALYPSO_SIGNIN_FREE_FAILURES_PER_ADDRESS", default=30)
# API tokens: lifetime when none is asked for, and the longest one may ask for.
CALYPSO_TOKEN_LIFETIME_DAYS = env.int("CALYPSO_TOKEN_LIFETIME_DAYS", default=90)
CALYPSO_TOKEN_MAX_LIFETIME_DAYS = env.int("CALYPSO_TOKEN_MAX_LIFETIME_DAYS", default=365)
# Refused and denied requests recorded in the audit trail per minute, per address and in total.
CALYPSO_AUDIT_REFUSALS_PER_ADDRESS = env.int("CALYPSO_AUDIT_REFUSALS_PER_ADDRESS", default=30)
CALYPSO_AUDIT_REFUSALS_TOTAL = env.int("CALYPSO_AUDIT_REFUSALS_TOTAL", default=300)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions
GUARDIAN_RAISE_403 = False
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("CALYPSO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("CALYPSO_SESSION_AGE_S", default=12 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (directly, or behind a TLS proxy whose X-Forwarded-Proto the ASGI server trusts:
# uvicorn --proxy-headers): secure cookies, a redirect from plain HTTP, and HSTS. The container image
# turns this on (docker/Dockerfile).
CALYPSO_HTTPS = env.bool("CALYPSO_HTTPS", default=False)
if CALYPSO_HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("CALYPSO_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes speak plain HTTP inside the host
    SECURE_HSTS_SECONDS = env.int("CALYPSO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("CALYPSO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("CALYPSO_HSTS_PRELOAD", default=True)
# Content Security Policy (apps.core.middleware.SecurityHeaders): nothing from elsewhere, no framing.
CALYPSO_CSP = env("CALYPSO_CSP", default="; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "connect-src 'self'", "font-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'none'"]))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.TokenAuthentication",  # first: anonymous calls get 401, not 403
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.core.permissions.CalypsoObjectPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["apps.core.filters.CalypsoFilterBackend",
                                "rest_framework.filters.SearchFilter", "rest_framework.filters.OrderingFilter"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.CalypsoCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"auth": env("CALYPSO_AUTH_THROTTLE", default="100/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Calypso API",
    "DESCRIPTION": "Storage and backup appliance management.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the portal itself: an appliance may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation also documents the one error body for the statuses it may answer (apps/core/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "apps.core.schema.error_responses"],
    "ENUM_NAME_OVERRIDES": {
        "DatasetKindEnum": "apps.storage.choices.DatasetKind",
        "StorageEventKindEnum": "apps.storage.choices.EventKind",
        "OnOffEnum": [("on", "on"), ("off", "off")],
        "BtrfsProfileEnum": "apps.storage.inputs.PROFILES",
        "BackupCompressionEnum": "apps.backup.choices.Compression",
        "ZfsCompressionEnum": "apps.storage.inputs.ZFS_COMPRESSION",
        "PoolHealthEnum": "apps.storage.choices.PoolHealth",
        "DiskHealthEnum": "apps.monitoring.choices.DiskHealth",
        "AlertStateEnum": "apps.monitoring.choices.AlertState",
        "AlertRuleKindEnum": "apps.monitoring.choices.RuleKind",
        "SeverityEnum": "apps.monitoring.choices.Severity",
        "NotificationChannelKindEnum": "apps.monitoring.choices.ChannelKind",
        "DeliveryStateEnum": "apps.monitoring.choices.DeliveryState",
        "MetricNameEnum": "apps.monitoring.metrics.METRIC_CHOICES",
        "BaculaJobLevelEnum": "apps.bacula.choices.JobLevel",
        "BaculaVolumeStatusEnum": "apps.bacula.choices.VolumeStatus",
        "BaculaJobStatusEnum": "apps.bacula.choices.JobStatus",
        "JobStateEnum": "apps.jobs.choices.JobState",
        "TapeLibraryKindEnum": "apps.tape.choices.LibraryKind",
        "TapeMediumKindEnum": "apps.tape.choices.MediumKind",
        "TapeMediumStateEnum": "apps.tape.choices.MediumState",
    },
}

# Celery: Redis is both broker and result store.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_TRACK_STARTED = True
# Task events (for `celery events` or Flower) cost the worker a Redis publish before each task reaches its
# pool process; off unless CALYPSO_TASK_EVENTS=1 (or `celery control enable_events` on a running worker).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CALYPSO_TASK_EVENTS", default=False)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CALYPSO_TASK_SOFT_TIME_LIMIT", default=24 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env("CALYPSO_QUEUE", default="calypso")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_RESULT_EXPIRES = timedelta(days=1)
# One result backend (a Redis client, thread safe) per process, not one per thread: the web server runs each
# request in a thread of its own, and building a backend costs ~10 ms on every enqueue otherwise.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
# By default Celery's Django fixup reconnects after every task (~7 ms); reuse instead.
CELERY_DB_REUSE_MAX = env.int("CALYPSO_DB_REUSE_MAX", default=1000)
# Static periodic work; django-celery-beat copies it into the database, where the admin edits it.
CELERY_BEAT_SCHEDULE = {
    "jobs.reap_stale": {"task": "jobs.reap_stale", "schedule": env.float("CALYPSO_JOB_REAP_EVERY_S", default=30.0)},
    # Pool health and storage inventory.
    "storage.sync": {"task": "storage.sync", "schedule": env.float("CALYPSO_STORAGE_SYNC_EVERY_S", default=120.0)},
    # Snapshot policies: each tick queues the runs that are due.
    "storage.policies": {"task": "storage.run_due_policies", "schedule": env.float("CALYPSO_POLICY_TICK_S", default=60.0)},
    # Backup tasks: each tick queues the runs that are due and inside their window.
    "backup.tasks": {"task": "backup.run_due", "schedule": env.float("CALYPSO_BACKUP_TICK_S", default=60.0)},
    # Disk health (SMART): every disk re-read, its predictive values sampled.
    "monitoring.disks": {"task": "monitoring.check_disks", "schedule": env.float("CALYPSO_DISK_CHECK_EVERY_S", default=300.0)},
    # Metrics: a reading every tick, then the alert rules and notifications; roll-ups every 5 minutes.
    "monitoring.tick": {"task": "monitoring.tick", "schedule": env.float("CALYPSO_METRICS_EVERY_S", default=30.0)},
    "monitoring.rollup": {"task": "monitoring.roll_up", "schedule": 300.0},
}
# Metrics: the tick (seconds) and how long each resolution is kept; zpool iostat's sampling interval.
CALYPSO_METRICS_EVERY_S = env.float("CALYPSO_METRICS_EVERY_S", default=30.0)
CALYPSO_METRICS_RAW_HOURS = env.int("CALYPSO_METRICS_RAW_HOURS", default=48)
CALYPSO_METRICS_5MIN_DAYS = env.int("CALYPSO_METRICS_5MIN_DAYS", default=30)
CALYPSO_METRICS_HOURLY_DAYS = env.int("CALYPSO_METRICS_HOURLY_DAYS", default=730)
CALYPSO_METRICS_IOSTAT_S = env.int("CALYPSO_METRICS_IOSTAT_S", default=1)
# Capacity forecast: the trend of this many days. Alerts: a series not updated for this many ticks is stale.
CALYPSO_FORECAST_DAYS = env.int("CALYPSO_FORECAST_DAYS", default=14)
CALYPSO_ALERT_STALE_TICKS = env.int("CALYPSO_ALERT_STALE_TICKS", default=4)

# Storage: where a new Btrfs filesystem's top level is mounted when its form names no mountpoint.
CALYPSO_BTRFS_MOUNT_ROOT = env("CALYPSO_BTRFS_MOUNT_ROOT", default="/mnt/calypso")

# Backup: this appliance's directory in backup repositories (default: the host name).
CALYPSO_BACKUP_CLIENT = env("CALYPSO_BACKUP_CLIENT", default="")

# Host services Calypso configures: its own files live under this directory and the services' main
# configuration includes them (Samba's smb.conf, the NFS server, tgt).
CALYPSO_INTEGRATIONS_DIR = env("CALYPSO_INTEGRATIONS_DIR", default="/etc/calypso/integrations")
# Shares: Samba's main configuration (Calypso adds one include line to it) and the NFS server in use:
# "kernel" (/etc/exports.d + exportfs), "ganesha" (NFS-Ganesha EXPORT blocks) or "auto" (detected).
CALYPSO_SAMBA_CONF = env("CALYPSO_SAMBA_CONF", default="/etc/samba/smb.conf")
CALYPSO_NFS_BACKEND = env("CALYPSO_NFS_BACKEND", default="auto")
CALYPSO_NFS_EXPORTS_FILE = env("CALYPSO_NFS_EXPORTS_FILE", default="/etc/exports.d/calypso.exports")
CALYPSO_GANESHA_CONF = env("CALYPSO_GANESHA_CONF", default="/etc/ganesha/ganesha.conf")
CALYPSO_GANESHA_PID_FILE = env("CALYPSO_GANESHA_PID_FILE", default="/run/ganesha/ganesha.pid")  # reloaded by SIGHUP
# iSCSI: "tgt", "scst" or "auto" (SCST when its kernel module is loaded, else tgt); tgtd's control port.
CALYPSO_ISCSI_BACKEND = env("CALYPSO_ISCSI_BACKEND", default="auto")
CALYPSO_TGT_CONTROL_PORT = env.int("CALYPSO_TGT_CONTROL_PORT", default=0)
CALYPSO_SCST_CONF = env("CALYPSO_SCST_CONF", default="/etc/scst.conf")
# Tape: mhVTL's configuration directory (device.conf, library_contents.<id>), its media home and the command
# that restarts it; where tgt libraries keep their media files; how long a cleaning cartridge stays loaded.
CALYPSO_MHVTL_CONFIG_DIR = env("CALYPSO_MHVTL_CONFIG_DIR", default="/etc/mhvtl")
CALYPSO_MHVTL_HOME = env("CALYPSO_MHVTL_HOME", default="/opt/mhvtl")
CALYPSO_MHVTL_RESTART = env.list("CALYPSO_MHVTL_RESTART", default=None)  # None: its service (systemd or init.d)
CALYPSO_TAPE_MEDIA_DIR = env("CALYPSO_TAPE_MEDIA_DIR", default=str(DATA_DIR / "tape"))
CALYPSO_TAPE_CLEAN_WAIT_S = env.float("CALYPSO_TAPE_CLEAN_WAIT_S", default=120.0)
# Bacula: "bacula" or "bareos"; the daemons' main configurations (empty: the flavour's own, e.g.
# /etc/bacula/bacula-dir.conf), which get one include line for Calypso's file; the console's configuration; how
# the storage daemon (which has no reload) is restarted (comma-separated argv; empty: it is not; unset: systemctl
# when systemd runs, else its init script); names defined in the main file.
CALYPSO_BACULA_FLAVOUR = env("CALYPSO_BACULA_FLAVOUR", default="bacula")
CALYPSO_BACULA_DIR_CONF = env("CALYPSO_BACULA_DIR_CONF", default="")
CALYPSO_BACULA_SD_CONF = env("CALYPSO_BACULA_SD_CONF", default="")
CALYPSO_BACULA_CONSOLE_CONF = env("CALYPSO_BACULA_CONSOLE_CONF", default="")
CALYPSO_BACULA_SD_RESTART = env.list("CALYPSO_BACULA_SD_RESTART", default=None)  # None: systemd, else init.d
CALYPSO_BACULA_CATALOG = env("CALYPSO_BACULA_CATALOG", default="MyCatalog")
CALYPSO_BACULA_MESSAGES = env("CALYPSO_BACULA_MESSAGES", default="Standard")
CALYPSO_BACULA_RESTORE_WHERE = env("CALYPSO_BACULA_RESTORE_WHERE", default="/tmp/bacula-restores")
CALYPSO_BACULA_POLL_S = env.float("CALYPSO_BACULA_POLL_S", default=2.0)
# Alert notifications: how long one attempt to send may take, how many attempts a message gets and the
# pause before the second (doubled after each failure); the portal's address for links in the messages.
CALYPSO_NOTIFY_TIMEOUT_S = env.float("CALYPSO_NOTIFY_TIMEOUT_S", default=10.0)
CALYPSO_NOTIFY_ATTEMPTS = env.int("CALYPSO_NOTIFY_ATTEMPTS", default=5)
CALYPSO_NOTIFY_RETRY_BASE_S = env.float("CALYPSO_NOTIFY_RETRY_BASE_S", default=30.0)
CALYPSO_NOTIFY_BASE_URL = env("CALYPSO_NOTIFY_BASE_URL", default="")

# Health: how long the Celery check waits for a busy worker's answer to its ping.
CALYPSO_HEALTH_CELERY_TIMEOUT_S = env.float("CALYPSO_HEALTH_CELERY_TIMEOUT_S", default=2.0)
# Jobs: a running job whose heartbeat is older than this is failed as "worker lost".
CALYPSO_JOB_HEARTBEAT_S = env.float("CALYPSO_JOB_HEARTBEAT_S", default=5.0)
CALYPSO_JOB_STALE_AFTER_S = env.float("CALYPSO_JOB_STALE_AFTER_S", default=60.0)
# Throttling of progress events (publish / persist), see apps/jobs/progress.py.
CALYPSO_PROGRESS_PUBLISH_S = env.float("CALYPSO_PROGRESS_PUBLISH_S", default=0.1)
CALYPSO_PROGRESS_PERSIST_S = env.float("CALYPSO_PROGRESS_PERSIST_S", default=1.0)
# Job WebSockets (apps/jobs/fanout.py): every socket's waiting events go out together at most every
# CALYPSO_WS_FLUSH_S seconds (a state change at once); past CALYPSO_WS_BUFFER_LIMIT waiting events a socket
# gets a resync instead.
CALYPSO_WS_FLUSH_S = env.float("CALYPSO_WS_FLUSH_S", default=0.015)
CALYPSO_WS_BUFFER_LIMIT = env.int("CALYPSO_WS_BUFFER_LIMIT", default=1000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("CALYPSO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
