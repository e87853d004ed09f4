from django.contrib import admin
from django.urls import include, path

from portal import jsonrpc

urlpatterns = [
    path("v1/job/", jsonrpc.endpoint, name="jsonrpc"),
    path("v1/job/<str:method>", jsonrpc.endpoint, name="jsonrpc-method"),
    path("api/", include("portal.api_urls")),
    path("ops/", include("portal.ops_urls")),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
]
