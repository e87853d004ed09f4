"""Forms of the web portal's project page."""

from __future__ import annotations

from django import forms

from projects.models import Role


class MemberForm(forms.Form):
    """Add a member by username, or change a member's role."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TokenForm(forms.Form):
    """A new API token for this project; shown once."""

    name = forms.CharField(max_length=100, required=False)
    expires_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires after (days)", help_text="Empty: never."
    )


class QuotasForm(forms.Form):
    """A project's quotas (admins). It only parses the browser's text; the limits are
    ProjectPatchSerializer's, the same as the REST API's."""

    max_queued_jobs = forms.IntegerField(label="Queued + running jobs at most", help_text="0 stops new submissions.")
    max_shots_per_job = forms.IntegerField(
        required=False, label="Shots per job at most", help_text="Empty: the backend's limit only."
    )
    max_circuits_per_job = forms.IntegerField(
        required=False, label="Entries per job at most", help_text="Empty: the backend's limit only."
    )

    def add_errors(self, errors: list[dict[str, str]], fallback: str) -> None:
        """Put InvalidParams' ``errors`` next to the fields of the same name."""
        for error in errors or [{"field": None, "message": fallback}]:
            self.add_error(error["field"] if error["field"] in self.fields else None, error["message"])
