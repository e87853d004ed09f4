from core.commands import PortalCommand
from projects.services import project_create


class Command(PortalCommand):
    help = "Create a project; prints its project_id alone on stdout."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--max-queued", type=int, default=None, help="Maximum QUEUED + RUNNING jobs.")
        parser.add_argument("--max-shots", type=int, default=None, help="Maximum shots per job.")
        parser.add_argument("--max-circuits", type=int, default=None, help="Maximum source_code entries per job.")

    def handle(self, *args, **options):
        project = project_create(
            slug=options["slug"],
            name=options["name"],
            max_queued_jobs=options["max_queued"],
            max_shots_per_job=options["max_shots"],
            max_circuits_per_job=options["max_circuits"],
        )
        self.stdout.write(str(project.project_id))
