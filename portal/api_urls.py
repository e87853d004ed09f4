"""The REST API under /api/ (issue 5: being built)."""

urlpatterns: list = []
