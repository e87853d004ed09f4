"""Admin for jobs and what hangs off them.

A job's state belongs to the state machine (jobs.services): status, progress, attempts, timestamps,
source and results are read-only here, and a job changes only through the actions (cancel, delete,
re-queue, force-stop) and ``job_update`` (name, description, tags, priority). Django's own delete
is disabled for jobs: it would drop rows the state machine keeps as DELETED tombstones. Results,
events and callback deliveries are logs: shown, never edited.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Prefetch
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from redis import RedisError

from core.admin import PREVIEW_CHARS, ReadOnlyAdmin, ReadOnlyInline, pre
from core.exceptions import PortalError
from jobs import queues
from jobs.choices import JobStatus
from jobs.inputs import MAX_TAGS
from jobs.models import Job, JobEvent, JobResult, Tag
from jobs.services import job_force_stop, job_update, jobs_cancel, jobs_delete, jobs_operator_requeue


class JobLogAdmin(ReadOnlyAdmin):
    """A log of rows that belong to a job, which each row links to."""

    @admin.display(description="job", ordering="job")
    def job_link(self, obj) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[obj.job_id]), obj.job_id)


# --- Tags ---------------------------------------------------------------------------------------


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "job_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_jobs=Count("jobs"))

    @admin.display(description="jobs", ordering="_jobs")
    def job_count(self, obj: Tag) -> int:
        return obj._jobs


# --- Jobs ---------------------------------------------------------------------------------------


class JobResultInline(ReadOnlyInline):
    model = JobResult
    verbose_name_plural = "results (one per source_code entry)"
    fields = ["index", "status", "num_qubits", "results_preview", "error", "profiling", "ended_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        # ``memory`` holds one bitstring per shot: never loaded for the page.
        return super().get_queryset(request).defer("memory")

    @admin.display(description="results")
    def results_preview(self, obj: JobResult) -> str:
        return pre(obj.results, limit=1500)


def _instant(value) -> str:
    """To the millisecond, in UTC: a job's steps are often less than a minute apart."""
    return value.isoformat(timespec="milliseconds") if value else "—"


class JobEventInline(ReadOnlyInline):
    model = JobEvent
    verbose_name_plural = "status changes"
    fields = ["status", "when", "detail"]
    readonly_fields = fields

    @admin.display(description="at")
    def when(self, obj: JobEvent) -> str:
        return _instant(obj.at)


class CallbackDeliveryInline(ReadOnlyInline):
    # The webhooks app owns the model and sits above this one: reached through the job's relation.
    model = Job.callback_deliveries.rel.related_model
    verbose_name_plural = "callback deliveries"
    fields = ["delivery_id", "name", "event", "job_status", "method", "url", "status", "tries", "attempt_log_view"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body").prefetch_related("attempt_log")

    @admin.display(description="attempts")
    def tries(self, obj) -> str:
        return f"{obj.attempts} / {obj.max_attempts}"

    @admin.display(description="attempt log")
    def attempt_log_view(self, obj) -> str:
        return _attempt_list(obj.attempt_log.all())


def _attempt_list(attempts) -> str:
    rows = format_html_join(
        "",
        "<li>{} — {} ({} s)</li>",
        (
            (a.at.isoformat(timespec="seconds"), a.status_code if a.status_code is not None else a.error or "—",
             f"{a.duration:.2f}")
            for a in attempts
        ),
    )  # fmt: skip
    return format_html('<ul style="margin: 0; padding-left: 1em">{}</ul>', rows) if rows else "—"


class JobAdminForm(forms.ModelForm):
    job_priority = forms.IntegerField(
        min_value=min(settings.JOB_PRIORITIES),
        max_value=max(settings.JOB_PRIORITIES),
        help_text="1 runs first. Only a QUEUED job's priority changes; it moves to the end of its new queue.",
    )

    class Meta:
        model = Job
        fields = ["job_name", "description", "tags", "job_priority"]

    def clean_tags(self):
        tags = self.cleaned_data["tags"]
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
        return tags


class JobTypeFilter(admin.SimpleListFilter):
    title = "job type"
    parameter_name = "job_type"

    def lookups(self, request, model_admin):
        return [("run", "run"), ("estimation", "estimation"), ("sampler", "sampler"), ("estimator", "estimator")]

    def queryset(self, request, queryset):
        if self.value() == "run":
            return queryset.filter(job_type__in=["", "sampling"])
        if self.value() in ("estimation", "sampler", "estimator"):
            return queryset.filter(job_type=self.value())
        return queryset


STATE_FIELDS = [
    "status", "progress_percent", "queue_position", "attempts", "worker_name", "created_at", "queued_at", "started_at",
    "ended_at", "updated_at",
]  # fmt: skip
SUBMISSION_FIELDS = [
    "project", "user", "backend", "code_type", "job_type", "num_entries", "num_qubits", "shots", "dry_run",
    "transpiler", "transpiler_options", "driver_options", "profiling", "enable_circuit_aggregation",
    "code_compress_level", "callbacks_view", "source",
]  # fmt: skip


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    form = JobAdminForm
    list_display = [
        "job_id", "job_name", "status", "backend", "project", "user", "job_priority", "progress_percent", "code_type",
        "num_entries", "shots", "tag_list", "created_at", "ended_at",
    ]  # fmt: skip
    # Filters with fixed choices: none of them scans the jobs table for its options.
    list_filter = [
        "status",
        "backend",
        "code_type",
        JobTypeFilter,
        "dry_run",
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["backend", "project", "user"]
    show_full_result_count = False  # one COUNT(*) of a large table per page is enough
    # Job id by its start (the whole id works too), names, tags, owner and project.
    search_fields = [
        "^job_id", "job_name", "tags__name", "user__username", "user__email", "project__slug", "project__name",
    ]  # fmt: skip
    search_help_text = "Job id (or its start), job name, tag, username or e-mail, project slug or name."
    autocomplete_fields = ["tags"]
    inlines = [JobResultInline, JobEventInline, CallbackDeliveryInline]
    actions = ["cancel_jobs", "delete_jobs", "requeue_jobs", "force_stop_jobs"]
    editable_fields = ["job_name", "description", "tags", "job_priority"]
    fieldsets = [
        (None, {"fields": ["job_id", "job_name", "description", "tags", "job_priority"]}),
        ("State", {"fields": STATE_FIELDS}),
        ("Submission", {"fields": SUBMISSION_FIELDS}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))

    def get_readonly_fields(self, request, obj=None):
        fields = [name for _, options in self.fieldsets for name in options["fields"]]
        editable = set(self.editable_fields)
        if obj is not None and obj.status == JobStatus.DELETED:
            editable = set()
        elif obj is not None and obj.status != JobStatus.QUEUED:
            editable.discard("job_priority")
        return [name for name in fields if name not in editable]

    def has_add_permission(self, request):
        return False  # jobs are submitted through the APIs

    def has_delete_permission(self, request, obj=None):
        return False  # the "delete" action (jobs_delete) keeps a tombstone; a hard delete would not

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- columns and read-only fields ---

    @admin.display(description="tags")
    def tag_list(self, obj: Job) -> str:
        return ", ".join(tag.name for tag in obj.tags.all())

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj: Job) -> str:
        return f"{obj.progress} %"

    @admin.display(description="queue position")
    def queue_position(self, obj: Job) -> str:
        if obj.status != JobStatus.QUEUED:
            return "—"
        try:
            position = queues.position(obj.job_id, obj.job_priority)
        except RedisError:
            return "unknown (Redis unavailable)"
        return str(position) if position is not None else "not in Redis (backend paused, or waiting to be restored)"

    @admin.display(description="callbacks")
    def callbacks_view(self, obj: Job) -> str:
        # Header values often carry the receiver's credentials: only their names are shown.
        shown = [
            {
                **{k: v for k, v in callback.items() if k != "headers"},
                "headers": sorted((callback.get("headers") or {}).keys()),
            }
            for callback in obj.callbacks or []
        ]
        return pre(shown) if shown else "—"

    @admin.display(description="source code")
    def source(self, obj: Job) -> str:
        if obj.source_blob is None:
            return "— (purged: the job is deleted)"
        entries = obj.source_code or []
        rows = format_html_join(
            "",
            "<li>{}</li>",
            ((pre(entry, limit=PREVIEW_CHARS // max(1, min(len(entries), 8))),) for entry in entries[:50]),
        )
        more = format_html("<p>… and {} more entries</p>", len(entries) - 50) if len(entries) > 50 else ""
        return format_html('<ol start="0" style="margin: 0">{}</ol>{}', rows, more)

    # --- saving: job_update only ---

    def save_model(self, request, obj, form, change):
        updates: dict[str, Any] = {
            name: form.cleaned_data[name]
            for name in ("job_name", "description", "job_priority")
            if name in form.changed_data
        }
        if "tags" in form.changed_data:
            updates["tags"] = [tag.name for tag in form.cleaned_data["tags"]]
        if not updates:
            return
        try:
            job_update(user=request.user, job_id=obj.job_id, **updates)
        except PortalError as exc:  # e.g. the job left QUEUED since the form was shown
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    def save_related(self, request, form, formsets, change):
        # job_update has set the tags (form.save_m2m would set them a second time, outside the
        # service); the inlines are read-only, so their formsets save nothing.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- actions: the services ---

    def _report(self, request, verb: str, done: list[Job], selected: int, why: str) -> None:
        if len(done) == selected:
            self.message_user(request, f"{verb} {len(done)} job(s).", messages.SUCCESS)
        else:
            self.message_user(request, f"{verb} {len(done)} of {selected} job(s); {why}", messages.WARNING)

    @admin.action(description="Cancel selected jobs (QUEUED ones)", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = jobs_cancel(user=request.user, job_ids=ids)
        self._report(
            request, "Cancelled", done, len(ids), "only QUEUED jobs can be cancelled (force-stop a running one)."
        )

    @admin.action(
        description="Delete selected jobs (purge source and results, keep a tombstone)", permissions=["change"]
    )
    def delete_jobs(self, request, queryset):
        jobs = list(queryset.select_related("project", "user"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete jobs",
                "opts": self.model._meta,
                "jobs": jobs,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/jobs/job/delete_jobs_confirmation.html", context)
        done = jobs_delete(user=request.user, job_ids=[job.pk for job in jobs])
        self._report(request, "Deleted", done, len(jobs), "running, cancelling and deleted jobs are left alone.")
        return None

    @admin.action(
        description="Re-queue selected jobs (failed, cancelled, stuck, missing from Redis)", permissions=["change"]
    )
    def requeue_jobs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = jobs_operator_requeue(user=request.user, job_ids=ids)
        self._report(request, "Re-queued", done, len(ids), "completed, deleted and waiting jobs are left alone.")

    @admin.action(description="Force-stop selected jobs (running → cancelled, -107)", permissions=["change"])
    def force_stop_jobs(self, request, queryset):
        done = []
        ids = list(queryset.values_list("pk", flat=True))
        for job_id in ids:
            try:
                done.append(job_force_stop(user=request.user, job_id=job_id))
            except PortalError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        if done:
            self.message_user(
                request, f"Stopped {len(done)} job(s): " + ", ".join(f"{j.job_id} {j.status}" for j in done),
                messages.SUCCESS,
            )  # fmt: skip


# --- Logs ---------------------------------------------------------------------------------------


@admin.register(JobResult)
class JobResultAdmin(JobLogAdmin):
    list_display = ["id", "job_link", "index", "status", "num_qubits", "error_code", "ended_at"]
    list_filter = ["status"]
    show_full_result_count = False
    search_fields = ["^job__job_id"]
    fields = ["job", "index", "status", "num_qubits", "results_preview", "metadata", "profiling", "error", "ended_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("memory")

    @admin.display(description="error")
    def error_code(self, obj: JobResult) -> str:
        return str(obj.error.get("code")) if isinstance(obj.error, dict) else "—"

    @admin.display(description="results")
    def results_preview(self, obj: JobResult) -> str:
        return pre(obj.results)


@admin.register(JobEvent)
class JobEventAdmin(JobLogAdmin):
    list_display = ["at", "job_link", "status", "detail"]
    list_filter = ["status", ("at", admin.DateFieldListFilter)]
    search_fields = ["^job__job_id", "detail"]
    show_full_result_count = False
    fields = ["job", "status", "at", "detail"]
    readonly_fields = fields
