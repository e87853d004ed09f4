from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Callbacks"

    def ready(self) -> None:
        from jobs.signals import job_status_changed, jobs_reconciling
        from webhooks import events

        job_status_changed.connect(events.on_status_change, dispatch_uid="webhooks.on_status_change")
        jobs_reconciling.connect(events.deliveries_reconcile, dispatch_uid="webhooks.deliveries_reconcile")
