from core.commands import PortalCommand
from projects.services import user_create


class Command(PortalCommand):
    help = "Create a user; prints its user_id alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", default=None)
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="An operator (staff and superuser).")

    def handle(self, *args, **options):
        user = user_create(
            username=options["username"],
            password=options["password"],
            email=options["email"],
            is_staff=options["staff"],
        )
        self.stdout.write(str(user.user_id))
