"""The portal's one server entry point (runportal serves it with uvicorn workers under gunicorn).

Async views (the event streams, SPEC §9) run on the event loop through Django's ASGI handler, so an
open stream holds no thread. Every other request goes to Django's WSGI handler on a pool of
WEB_THREADS threads: Django's ASGI handler would run all sync views of a process on one thread, one
request at a time, while a request mostly waits on PostgreSQL and Redis.
"""

import os

from a2wsgi import WSGIMiddleware
from asgiref.sync import iscoroutinefunction
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.urls import Resolver404, resolve

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
_async_app = get_asgi_application()  # sets Django up

from django.conf import settings  # noqa: E402

_sync_app = WSGIMiddleware(get_wsgi_application(), workers=settings.WEB_THREADS)


def _is_async_view(path: str) -> bool:
    try:
        return iscoroutinefunction(resolve(path).func)
    except Resolver404:
        return False


async def application(scope, receive, send):
    if scope["type"] == "http" and not _is_async_view(scope["path"]):
        return await _sync_app(scope, receive, send)
    return await _async_app(scope, receive, send)
