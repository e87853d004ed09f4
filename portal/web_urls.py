"""The web portal's pages (issue 6: being built)."""

urlpatterns: list = []
