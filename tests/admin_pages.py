"""What the admin tests of every app share: the admin URL of a changelist, running an admin action, and
a callback that must never show its credential."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

HOOK = {"name": "hook", "type": "status", "method": "post", "url": "http://127.0.0.1:9/hook",
        "headers": {"Authorization": "Bearer receiver-credential-42"}}  # fmt: skip


def changelist(model: str) -> str:
    return reverse(f"admin:{model.replace('.', '_')}_changelist")


def act(client, capture, action: str, jobs, model="jobs.job", **extra):
    data = {"action": action, "_selected_action": [str(job.pk) for job in jobs], "index": 0, **extra}
    with capture(execute=True):
        return client.post(changelist(model), data)


def found(client, model: str, term: str) -> set:
    """The primary keys an admin search for ``term`` lists."""
    response = client.get(changelist(model), {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def form_data(response) -> dict[str, Any]:
    """The POST data of an admin change page as rendered: the main form and every inline."""
    data: dict[str, Any] = {}

    def put(form) -> None:
        for name in form.fields:
            value = form[name].value()  # as the widget renders it
            if value is not None:
                data[form.add_prefix(name)] = value

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management.initial.get(name, 0)
        for form in inline.formset.initial_forms:
            put(form)
    return data


def change(client, capture, obj, **fields):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    data = {**form_data(client.get(url)), **fields}
    with capture(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors  # saved, back to the list
    return response
