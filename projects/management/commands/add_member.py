from core.commands import PortalCommand
from projects.models import Role
from projects.selectors import project_get_by_slug, user_get_by_username
from projects.services import membership_set


class Command(PortalCommand):
    help = "Add a user to a project, or change their role."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)

    def handle(self, *args, **options):
        project = project_get_by_slug(options["slug"])
        user = user_get_by_username(options["username"])
        membership = membership_set(project=project, user=user, role=options["role"])
        self.stderr.write(f"{user.username} is {membership.role} of {project.slug}")
