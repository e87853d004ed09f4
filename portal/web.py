"""Web portal views shared by every page: error handlers (issue 6: being built)."""

from django.views import defaults


def permission_denied(request, exception=None):
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    return defaults.page_not_found(request, exception)


def server_error(request):
    return defaults.server_error(request)
