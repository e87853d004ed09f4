"""The web pages of a project, mounted at /projects/ (portal/web_urls.py)."""

from django.urls import path

from projects import web

app_name = "projects"

urlpatterns = [
    path("<slug:slug>/", web.project_detail, name="detail"),
    path("<slug:slug>/members/", web.member_add, name="member-add"),
    path("<slug:slug>/members/<str:username>/role/", web.member_role, name="member-role"),
    path("<slug:slug>/members/<str:username>/remove/", web.member_remove, name="member-remove"),
    path("<slug:slug>/tokens/", web.token_new, name="token-new"),
    path("<slug:slug>/tokens/created/", web.token_created, name="token-created"),
    path("<slug:slug>/tokens/<int:token_id>/revoke/", web.token_revoke_view, name="token-revoke"),
    path("<slug:slug>/secret/rotate/", web.secret_rotate, name="secret-rotate"),
    path("<slug:slug>/quotas/", web.quotas_update, name="quotas"),
]
