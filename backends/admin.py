"""Admin for backends: their configuration is edited here; their status changes only through
``backend_set_status`` (the actions), which also enqueues the jobs a paused backend held. Timeslots
are booked, moved and removed through ``timeslot_save`` and ``timeslot_cancel``, which enqueue the
jobs a change lets run."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from backends.models import Backend, BackendStatus, Timeslot
from backends.selectors import with_queue_length
from backends.services import backend_set_status, timeslot_cancel, timeslot_save, timeslot_validate
from core.exceptions import InvalidParams, PortalError
from drivers.registry import driver_names


def _driver_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in driver_names()]


class BackendAdminForm(forms.ModelForm):
    # A choice of the registered drivers; Backend.clean() checks the name again on save.
    driver = forms.ChoiceField(choices=_driver_choices, help_text="A registered driver.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.driver
        if "driver" in self.fields and current and current not in driver_names():
            # Shown as it is, so saving the page never swaps it silently for the first known driver;
            # Backend.clean() refuses it until an operator picks a registered one.
            self.fields["driver"].choices = [*_driver_choices(), (current, f"{current} (not registered)")]

    class Meta:
        model = Backend
        fields = [
            "name", "driver", "description", "code_types", "status", "options", "max_qubits", "max_shots",
            "max_circuits", "max_variables", "time_limit", "basis_gates", "coupling_map", "requires_timeslot",
        ]  # fmt: skip


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):
    form = BackendAdminForm
    list_display = [
        "name", "driver", "status", "code_types", "max_qubits", "max_shots", "max_circuits", "max_variables",
        "time_limit", "queued_jobs",
    ]  # fmt: skip
    list_filter = ["status", "driver"]
    search_fields = ["name", "driver", "description"]
    actions = ["pause", "resume", "take_offline"]
    fieldsets = [
        (None, {"fields": ["name", "driver", "status", "description", "code_types", "options"]}),
        ("Limits", {"fields": ["max_qubits", "max_shots", "max_circuits", "max_variables", "time_limit"]}),
        ("Device", {"fields": ["basis_gates", "coupling_map"]}),
        ("Scheduling", {"fields": ["requires_timeslot"]}),
    ]

    def get_queryset(self, request):
        return with_queue_length(super().get_queryset(request))

    @admin.display(description="queued", ordering="queued")
    def queued_jobs(self, obj: Backend) -> int:
        return obj.queued

    def get_readonly_fields(self, request, obj=None):
        # Status changes go through backend_set_status (the actions); only a new backend picks one.
        return ["status"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Only what the form changed: a concurrent status change (ops page, command) is not overwritten.
        fields = [name for name in form.changed_data if name in form._meta.fields and name != "status"]
        if fields:
            obj.save(update_fields=fields)

    def _set_status(self, request, queryset, status: str) -> None:
        names = []
        for backend in queryset:
            try:
                backend_set_status(backend=backend, status=status)
            except PortalError as exc:
                self.message_user(request, f"{backend.name}: {exc.message}", messages.ERROR)
            else:
                names.append(backend.name)
        if names:
            self.message_user(request, f"{', '.join(names)}: {status}.", messages.SUCCESS)

    @admin.action(description="Pause selected backends (jobs stay queued)", permissions=["change"])
    def pause(self, request, queryset):
        self._set_status(request, queryset, BackendStatus.PAUSED)

    @admin.action(description="Resume selected backends (online; held jobs are enqueued)", permissions=["change"])
    def resume(self, request, queryset):
        self._set_status(request, queryset, BackendStatus.ONLINE)

    @admin.action(description="Take selected backends offline (submissions refused)", permissions=["change"])
    def take_offline(self, request, queryset):
        self._set_status(request, queryset, BackendStatus.OFFLINE)


# --- Timeslots ----------------------------------------------------------------------------------


class TimeslotAdminForm(forms.ModelForm):
    """Refuses, as form errors, what ``timeslot_save`` would refuse on save (``timeslot_validate``);
    the service asks again under the backend's lock when the page saves."""

    class Meta:
        model = Timeslot
        fields = ["backend", "project", "start_at", "end_at", "note"]

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the form's values, Timeslot.clean() has run
        if self.errors:
            return
        try:
            timeslot_validate(timeslot=self.instance)
        except PortalError as exc:
            errors = exc.extra.get("errors") if isinstance(exc, InvalidParams) else None
            field = errors[0]["field"] if errors else None
            self.add_error(field if field in self.fields else None, errors[0]["message"] if errors else exc.message)


@admin.register(Timeslot)
class TimeslotAdmin(admin.ModelAdmin):
    form = TimeslotAdminForm
    list_display = ["backend", "project", "start_at", "end_at", "note", "created_by"]
    list_filter = ["backend"]
    list_select_related = ["backend", "project", "created_by"]
    search_fields = ["project__slug", "note"]
    date_hierarchy = "start_at"
    autocomplete_fields = ["project"]
    readonly_fields = ["timeslot_id", "created_by", "created_at"]

    def get_fieldsets(self, request, obj=None):
        slot = (None, {"fields": ["backend", "project", "start_at", "end_at", "note"]})
        if obj is None:
            return [slot]
        return [slot, ("Booking", {"fields": ["timeslot_id", "created_by", "created_at"]})]

    def save_model(self, request, obj, form, change):
        # The service checks again under the lock and enqueues the jobs the change lets run.
        try:
            timeslot_save(user=request.user, timeslot=obj)
        except PortalError as exc:  # booked meanwhile by someone else: said, not a 500
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    def delete_model(self, request, obj):
        timeslot_cancel(user=request.user, timeslot=obj)

    def delete_queryset(self, request, queryset):
        for slot in queryset.select_related("backend"):
            try:
                timeslot_cancel(user=request.user, timeslot=slot)
            except PortalError as exc:
                self.message_user(request, f"{slot}: {exc.message}", messages.ERROR)
