from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Callbacks"

    def ready(self) -> None:
        from jobs.signals import job_status_changed, jobs_reconciling
        from webhooks import deliveries

        job_status_changed.connect(deliveries.on_status_change, dispatch_uid="webhooks.on_status_change")
        jobs_reconciling.connect(deliveries.deliveries_reconcile, dispatch_uid="webhooks.deliveries_reconcile")
