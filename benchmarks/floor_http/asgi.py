"""The floor's view served the way the portal serves its API (portal/asgi.py): uvicorn workers, the
WSGI application on a thread pool behind a2wsgi. What it costs beside the floor under gthread is the
server's own share."""

from a2wsgi import WSGIMiddleware

from floor_http.app import application as wsgi_application

application = WSGIMiddleware(wsgi_application, workers=8)
