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
