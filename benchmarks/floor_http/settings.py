"""Settings of the floor app: one model, one view, no middleware beyond what DRF needs."""

import os

import dj_database_url

SECRET_KEY = "floor"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "floor_http"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "floor_http.app"
DATABASES = {"default": dj_database_url.parse(os.environ["FLOOR_DATABASE_URL"], conn_max_age=300)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10")
