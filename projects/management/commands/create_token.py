from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from core.commands import PortalCommand
from projects.models import TokenScope
from projects.selectors import project_get_by_slug, user_get_by_username
from projects.services import token_create


class Command(PortalCommand):
    help = "Create an API token; prints the token alone on stdout (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--project", default=None, help="Bind the token to this project (slug).")
        parser.add_argument("--scope", choices=[TokenScope.DRIVER], default=TokenScope.DEFAULT)
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        user = user_get_by_username(options["username"])
        project = project_get_by_slug(options["project"]) if options["project"] else None
        expires_at = None
        if options["expires_days"] is not None:
            if options["expires_days"] <= 0:
                raise CommandError("--expires-days must be a positive number of days.")
            expires_at = timezone.now() + timedelta(days=options["expires_days"])
        _, raw = token_create(
            user=user, project=project, scope=options["scope"], expires_at=expires_at, name=options["name"]
        )
        self.stdout.write(raw)
