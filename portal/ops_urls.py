"""The operators' pages under /ops/ (issue 5: being built)."""

urlpatterns: list = []
