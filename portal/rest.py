"""DRF glue: the REST exception handler translates the same domain errors as JSON-RPC."""

from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    return drf_exception_handler(exc, context)
