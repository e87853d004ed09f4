"""Builders for test data: users, projects, memberships and tokens, through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from projects.models import Project, Role, User
from projects.services import membership_set, project_create, token_create, user_create

_seq = itertools.count(1)


@dataclass
class Tenant:
    """A user with a token in a project."""

    user: User
    project: Project
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}


def make_user(username: str | None = None, *, staff: bool = False, password: str | None = None) -> User:
    return user_create(username=username or f"user{next(_seq)}", is_staff=staff, password=password)


def make_project(slug: str | None = None, **kwargs) -> Project:
    return project_create(slug=slug or f"project{next(_seq)}", **kwargs)


def make_tenant(
    *, project: Project | None = None, role: str = Role.MEMBER, staff: bool = False, scope: str = "", username=None
) -> Tenant:
    user = make_user(username, staff=staff)
    project = project or make_project()
    membership_set(project=project, user=user, role=role)
    _, raw = token_create(user=user, scope=scope)
    return Tenant(user=user, project=project, token=raw)


BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
# Seed 000's two-circuit example: X on both qubits, so every shot reads "11".
XX = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n\nqreg q[2];\ncreg c[2];\nx q[0];\nx q[1];\n\nmeasure q -> c;\n\n'
BELL_QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n'


def submit_bell(tenant, **fields):
    """Submit a 100-shot Bell job on ``dummy`` through the service (fields overridable); the Job row."""
    from jobs.services import JobSpec, job_submit

    spec = JobSpec(**{"code_type": "qasm2", "source_code": [BELL], "backend": "dummy", "shots": 100, **fields})
    return job_submit(user=tenant.user, project=tenant.project, spec=spec)


def complete(job):
    """Run ``job`` through the worker's services as if every entry completed (no worker needed)."""
    from drivers.base import EntryResult
    from jobs.models import Job
    from jobs.services import job_finish, job_record_entry, job_start

    job_start(job_id=job.job_id)
    for index in range(job.num_entries):
        job_record_entry(job_id=job.job_id, index=index, entry=EntryResult("COMPLETED", {"00": 50, "11": 50}, 2))
    job_finish(job_id=job.job_id)
    return Job.objects.get(pk=job.pk)


def fail(job):
    """Start ``job`` and fail it with an execution error."""
    from drivers.errors import EXECUTION_ERROR, error_dict
    from jobs.models import Job
    from jobs.services import job_fail, job_start

    job_start(job_id=job.job_id)
    job_fail(job_id=job.job_id, error=error_dict(EXECUTION_ERROR, "boom"))
    return Job.objects.get(pk=job.pk)


def messages_of(response) -> list[str]:
    """The django.contrib.messages a response carried."""
    from django.contrib.messages import get_messages

    return [str(message) for message in get_messages(response.wsgi_request)]
