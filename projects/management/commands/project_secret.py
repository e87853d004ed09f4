from core.commands import PortalCommand
from projects.selectors import project_get_by_slug
from projects.services import project_rotate_secret


class Command(PortalCommand):
    help = "Print a project's callback signing secret alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--rotate", action="store_true", help="Replace the secret with a new one first.")

    def handle(self, *args, **options):
        project = project_get_by_slug(options["slug"])
        secret = project_rotate_secret(project=project) if options["rotate"] else project.callback_secret
        self.stdout.write(secret)
