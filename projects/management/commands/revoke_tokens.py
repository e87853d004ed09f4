from core.commands import PortalCommand
from projects.selectors import user_get_by_username
from projects.services import tokens_revoke


class Command(PortalCommand):
    help = "Revoke every API token of a user; effective for the very next request."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        count = tokens_revoke(user=user_get_by_username(options["username"]))
        self.stderr.write(f"revoked {count} token(s)")
