"""Shared bits of the management commands."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import PortalError


class PortalCommand(BaseCommand):
    """A command whose domain errors end as a one-line CommandError, never a traceback.

    What scripts capture (ids, tokens) goes alone on stdout; everything else on stderr.
    """

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except PortalError as exc:
            raise CommandError(exc.message) from exc
