"""Settings, all from the environment (SPEC §8).

With nothing set the portal is self-contained: a SQLite file and an embedded Redis under the
project directory, and a secret key generated once into a git-ignored file.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from portal import embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
# Prometheus (core/metrics.py): every process writes its metrics' files here, /metrics sums them. Set
# in the environment here, before any process imports prometheus_client, and inherited by children.
METRICS_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or VAR_DIR / "metrics")
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _embedded_secret_key() -> str:
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Written whole under a name of its own, then linked into place: processes starting together (the
        # two test runs of CI, a web server and its workers) all end up with the one key, never half of it.
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        draft = VAR_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won; its key is the key
        finally:
            draft.unlink()
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or _embedded_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_rq",
    "axes",
    "csp",
    "portal",
    "projects",
    "backends",
    "drivers",
    "jobs",
    "webhooks",
]

MIDDLEWARE = [
    # First: every request is counted (QCOS's get_api_stats), refused ones too.
    "portal.metrics.count_requests",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: a static file needs no policy of its own; every page, error pages and the
    # sign-in lockout page included, gets one.
    "portal.web.PortalCSPMiddleware",
    # A domain NotFound or PermissionDenied from a page is its 404 or 403 page.
    "portal.web.DomainErrorPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into portal.web.login_locked_out's page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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

# --- Database -------------------------------------------------------------------------------
# Default: a SQLite file in WAL mode. synchronous=NORMAL is durable in WAL mode except across a
# power cut, and IMMEDIATE transactions take the write lock up front so concurrent writers wait
# (busy timeout) instead of failing with "database is locked" on lock upgrade. Measured here:
# Django's default journal made single-row creates ~9x slower.
_default_db = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
# Persistent connections (PostgreSQL): each web thread (portal/asgi.py, a fixed pool of WEB_THREADS
# per process) and each worker keeps its own, checked before reuse, instead of a new one per request.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or _default_db, conn_max_age=env_int("DB_CONN_MAX_AGE", 300)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's default random_page_cost (4) prices an index read as a spinning disk's seek; on an
    # SSD or a cached table it made the planner walk the created_at index past other tenants' newest
    # rows instead of reading a user's page off job_user_status_created_id (48 ms against 19 ms at 1M
    # jobs, benchmarks/bench_scale.py). 1.1 is the usual figure for SSDs; PG_RANDOM_PAGE_COST overrides,
    # and 0 sends nothing (a pooler such as PgBouncer refuses startup options unless told to ignore them:
    # then set it on the server).
    _page_cost = float(os.environ.get("PG_RANDOM_PAGE_COST") or 1.1)
    if _page_cost > 0:
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={_page_cost}"
    # Every hot statement has one fixed text (core.prepared), so with the values bound on the server
    # psycopg prepares each on its fifth run in a connection and PostgreSQL stops parsing and planning
    # it anew: a drained job's PostgreSQL CPU went from 1.66-1.82 to 0.99-1.06 ms (1000-job drains,
    # interleaved, each process's CPU counted).
    # Django's default, values inlined by the client and nothing prepared, is what a pooler in
    # transaction mode (PgBouncer without max_prepared_statements) needs: PG_PREPARED_STATEMENTS=false.
    if env_bool("PG_PREPARED_STATEMENTS", True):
        DATABASES["default"]["ENGINE"] = "core.postgresql"  # bulk writes within the bound parameters' limit
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

# Threads per web process for every request but the event streams (portal/asgi.py). Few, because a
# request here mostly computes: more threads only take turns at the GIL, and the turns cost. Measured
# on 2 cores, 2 processes (benchmarks/bench_http.py): 2 threads 230-246 submits/s, 4 threads 194-201,
# 8 threads 147, each at less CPU a request the fewer the threads. Raise it for slow databases.
WEB_THREADS = env_int("WEB_THREADS", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "projects.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in throttling (django-axes) -----------------------------------------------------------
# Every password sign-in (the portal's form, /admin/login/, the browsable API's login) goes through
# django.contrib.auth.authenticate(request, ...), so the axes backend sees them all; API tokens never
# do (projects/authentication.py), so they are not throttled here but by RATE_LIMIT.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in before any password check
    "django.contrib.auth.backends.ModelBackend",
]
# Locked per username *and* address: per username alone, anyone anywhere could lock any user out by
# guessing wrong on purpose; per address alone, one attacker behind a campus NAT or a shared proxy would
# lock everyone there out. The price: one address can still spread guesses over many usernames.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = max(env_int("LOGIN_FAILURE_LIMIT", 5), 1)
# A cool-off, never a permanent lock that only an operator could lift (None would mean that).
AXES_COOLOFF_TIME = timedelta(minutes=max(env_int("LOGIN_COOLOFF_MINUTES", 15), 1))
AXES_RESET_ON_SUCCESS = True

# Password logins over JSON-RPC (QCOS's /v1/auth): an access token for this long, and a refresh token,
# spent by its first use, for this long (QCOS's own defaults).
LOGIN_ACCESS_SECONDS = max(env_int("LOGIN_ACCESS_SECONDS", 1800), 60)
LOGIN_REFRESH_SECONDS = max(env_int("LOGIN_REFRESH_SECONDS", 7 * 24 * 3600), LOGIN_ACCESS_SECONDS)
AXES_LOCKOUT_CALLABLE = "portal.web.login_locked_out"  # the sign-in page with the reason, 429
AXES_USERNAME_CALLABLE = "portal.web.sign_in_username"  # an overlong username must not fail its insert
# Not verbose: its start-up banner would be logged by every process (workers, each manage.py command).
# Failures and lockouts are still logged, as warnings.
AXES_VERBOSE = False
# The address is REMOTE_ADDR (django-ipware is not installed, so X-Forwarded-For, which any client can
# write, is never read); behind a proxy, uvicorn puts the client's address there (--forwarded-allow-ips).

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at every start without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Redis and queues ----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    # Only its address: the server starts when a process first needs it (portal/embedded_redis.py).
    REDIS_URL = embedded_redis.url(BASE_DIR)
# Called before a process's first Redis connection (core.redis.ensure_server): takes the process's
# lease on the embedded Redis, starting it if none runs.
REDIS_ENSURE_SERVER = "portal.embedded_redis.ensure_for_process" if EMBEDDED_REDIS else ""

# Strict priority: one RQ queue per job priority; workers listen to them in order 1..10, and RQ
# always pops from the first non-empty queue it is given, so every priority-1 job starts first.
JOB_PRIORITIES = range(1, 11)
JOB_QUEUE_NAMES = [f"jobs-p{priority}" for priority in JOB_PRIORITIES]
CALLBACK_QUEUE_NAME = "callbacks"
# Circuit drawings for the job pages, made by the job workers after a job ends and only when no job
# waits (the queue they listen to last). Off: no drawings are made, and job pages show none.
DRAWING_QUEUE_NAME = "drawings"
CIRCUIT_DRAWINGS = env_bool("CIRCUIT_DRAWINGS", True)
QUEUE_NAMES = [*JOB_QUEUE_NAMES, DRAWING_QUEUE_NAME, CALLBACK_QUEUE_NAME]
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in QUEUE_NAMES}
RQ_QUEUES["default"] = {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600}
RQ_SHOW_ADMIN_LINK = True
# Crash recovery (jobs.services.jobs_reconcile, run by every worker at least this often).
RECONCILE_INTERVAL = env_int("RECONCILE_INTERVAL", 30)
# Workers report each running job this often; a report lapses after three missed ones.
WORKER_HEARTBEAT_INTERVAL = env_int("WORKER_HEARTBEAT_INTERVAL", 5)
# A RUNNING job whose worker has not reported it for this long is lost.
RECONCILE_LOST_AFTER = env_int("RECONCILE_LOST_AFTER", 30)
# A QUEUED job committed this long ago but not in Redis has missed its enqueue.
RECONCILE_QUEUED_GRACE = env_int("RECONCILE_QUEUED_GRACE", 10)
# The address space a work horse may use (RLIMIT_AS), unless its backend's options say
# memory_limit_mb: a prewarmed horse starts near 1.6 GiB, and Aer's largest default state is 4 GiB.
JOB_MEMORY_LIMIT_MB = env_int("JOB_MEMORY_LIMIT_MB", 6144)
# Each worker runs its jobs in one long-lived work process (jobs/horse.py), replaced after this many
# jobs or once it has grown this much past its start (a library's caches, a large job's leftovers).
WORK_PROCESS_MAX_JOBS = env_int("WORK_PROCESS_MAX_JOBS", 1000)
WORK_PROCESS_MAX_GROWTH_MB = env_int("WORK_PROCESS_MAX_GROWTH_MB", 512)

# Modules that register drivers (drivers/registry.py); a backend row names one of their drivers.
DRIVER_MODULES = ["drivers.aer", "drivers.qubo", "drivers.async_example"]

# Seconds between keep-alive comments on a job's event stream (SPEC §9: at most 15).
# Set by runportal for its web server: the name its event streams hear server_cancel on (jobs.live).
PORTAL_INSTANCE = os.environ.get("PORTAL_INSTANCE", "")
SSE_KEEPALIVE_SECONDS = min(env_int("SSE_KEEPALIVE_SECONDS", 15), 15)

# --- API ------------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 32 * 1024 * 1024)
JSONRPC_MAX_BATCH = env_int("JSONRPC_MAX_BATCH", 100)


# Requests per window per API token (portal/ratelimit.py): "<requests>/<seconds>", 0 = no limit.
def _rate_limit(value: str) -> tuple[int, int]:
    requests_, _, window = value.strip().partition("/")
    try:
        return int(requests_), int(window or 60)
    except ValueError as exc:
        raise ValueError(f"RATE_LIMIT must look like 1200/60 (requests/seconds) or 0, not {value!r}") from exc


RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW = _rate_limit(os.environ.get("RATE_LIMIT") or "1200/60")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.openapi.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.rest.exception_handler",
    # The per-token rate limit of JSON-RPC, on the same counters (portal/ratelimit.py).
    "DEFAULT_THROTTLE_CLASSES": ["portal.rest.RateLimitThrottle"],
    "DEFAULT_PAGINATION_CLASS": "portal.rest.PortalPagination",
    "PAGE_SIZE": 100,
    # JSON bodies only: the strict serializers would reject a form's csrfmiddlewaretoken anyway, and
    # the browsable API's raw-data form posts JSON. Parsed and written as JSON-RPC does (SPEC §13):
    # size, depth and non-finite numbers checked in; never NaN or a lone surrogate out.
    "DEFAULT_PARSER_CLASSES": ["portal.rest.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["portal.rest.StrictJSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quantum job portal REST API",
    "DESCRIPTION": "Jobs, projects, backends and API tokens. The JSON-RPC API of seed 000 is at /v1/job/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "BackendStatusEnum": "backends.models.BackendStatus",
        "CallbackTypeEnum": "jobs.choices.CallbackType",
        "TokenScopeEnum": "projects.models.TokenScope",
    },
    # Swagger UI's assets come from the portal itself (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers, in the one error envelope (portal/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.openapi.add_error_responses"],
}

CALLBACK_ALLOWED_NETWORKS = env_list("CALLBACK_ALLOWED_NETWORKS")
# Who may scrape /metrics besides staff tokens: CIDRs (e.g. the Prometheus server's address).
METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(n, strict=False) for n in env_list("METRICS_ALLOWED_NETWORKS")]
CALLBACK_RETRY_DELAYS = [int(x) for x in env_list("CALLBACK_RETRY_DELAYS", "10,30,90,270,810")]

# --- Production hardening (manage.py check --deploy) ----------------------------------------
# Secure cookies by default in production (a DATABASE_URL given); the embedded default serves
# plain http on 127.0.0.1, where secure cookies would make signing in impossible.
_secure_default = not DEBUG and bool(os.environ.get("DATABASE_URL"))
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", _secure_default)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", _secure_default)
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# The portal's own pages load scripts and styles only from their static files: no inline script, no
# style attribute, nothing from another origin. connect-src: job.js's EventSource and fetch, same origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Pages the portal serves but did not write, and what they need beyond the strict policy, by URL
# prefix (the longest matching prefix wins; portal.web.PortalCSPMiddleware). Each relaxes only the
# directives named; the others stay as above.
CONTENT_SECURITY_POLICY_BY_PREFIX = {
    # Django admin: its change lists emit a <style> block, and the portal's own admin columns
    # (jobs/admin.py) use style attributes. Its scripts are all files.
    "/admin/": {"style-src": [SELF, UNSAFE_INLINE]},
    # django-rq's queue pages (staff only) have inline <script> blocks of their own.
    "/django-rq/": {"script-src": [SELF, UNSAFE_INLINE], "style-src": [SELF, UNSAFE_INLINE]},
    # DRF's browsable API and its login page lay out with style attributes; its scripts are files.
    "/api/": {"style-src": [SELF, UNSAFE_INLINE]},
    # Swagger UI: its start-up script and <style> carry this response's nonce
    # (templates/drf_spectacular/swagger_ui.html); its icons are data: images.
    "/api/docs/": {"script-src": [SELF, NONCE], "style-src": [SELF, NONCE], "img-src": [SELF, "data:"]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # qiskit logs every transpiler pass at INFO: ~20 lines per circuit in a worker.
    # django-axes logs four INFO lines per successful sign-in; its failures and lockouts are warnings.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "qiskit": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# on_db_commit: an enqueue inside a transaction waits for its commit (STYLE: enqueue after commit).
RQ = {"WORKER_CLASS": "jobs.worker.JobWorker", "QUEUE_CLASS": "jobs.queues.JobQueue", "COMMIT_MODE": "on_db_commit"}
