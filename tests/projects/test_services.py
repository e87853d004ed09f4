"""Token services: who may have a driver-scope token issued."""

from __future__ import annotations

import pytest

from core.exceptions import PermissionDenied
from projects.models import TokenScope
from projects.services import token_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_member_cannot_issue_themselves_a_driver_token(tenant):
    """Over the API or the web (requested_by given), only operators get driver-scope tokens."""
    with pytest.raises(PermissionDenied):
        token_create(user=tenant.user, scope=TokenScope.DRIVER, requested_by=tenant.user)


def test_operators_issue_driver_tokens(tenant):
    """An operator asking for themselves, or at the command line for anyone (requested_by None), may."""
    operator = make_user(staff=True)
    assert token_create(user=operator, scope=TokenScope.DRIVER, requested_by=operator)[0].scope == TokenScope.DRIVER
    assert token_create(user=tenant.user, scope=TokenScope.DRIVER)[0].scope == TokenScope.DRIVER
