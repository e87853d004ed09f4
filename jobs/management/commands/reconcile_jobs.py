import json

from core.commands import PortalCommand
from jobs.services import jobs_reconcile


class Command(PortalCommand):
    help = (
        "Re-queue QUEUED jobs missing from Redis; re-queue (once) or fail (-106) RUNNING jobs whose worker is gone. "
        "Safe to run any time; the workers run it periodically."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(jobs_reconcile()))
