from backends.models import BackendStatus
from backends.selectors import backend_get
from backends.services import backend_set_status
from core.commands import PortalCommand


class Command(PortalCommand):
    help = "Put a backend online, pause it (jobs stay queued) or take it offline (submissions refused)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("status", choices=BackendStatus.values)

    def handle(self, *args, **options):
        backend = backend_set_status(backend=backend_get(options["name"]), status=options["status"])
        self.stderr.write(f"{backend.name} is {backend.status}")
