"""Forms of the web portal's job pages. They only parse what a browser sends (text, files, checkboxes)
into the JSON shapes of the API; the rules are SubmitJobSerializer's and the services' (one set of rules)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from django import forms

from core.validation import loads
from drivers.base import PROFILING_STAGES
from drivers.transpilers import TRANSPILERS
from jobs.choices import CIRCUIT_CODE_TYPES, CodeType

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
GHZ = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\n'
    "h q[0];\ncx q[0],q[1];\ncx q[1],q[2];\nmeasure q -> c;\n"
)
# Max-cut of the 4-cycle 0-1-2-3-0 as a QUBO: minimise -deg(i)·x_i + 2·x_i·x_j per edge (optimum -4, cut 4).
MAXCUT = "[[-2, 1, 0, 1],\n [1, -2, 1, 0],\n [0, 1, -2, 1],\n [1, 0, 1, -2]]\n"
EXAMPLES: dict[str, dict[str, Any]] = {
    "bell": {"label": "Bell pair", "code_type": CodeType.QASM2, "backend": "dummy", "source_code": BELL},
    "ghz": {"label": "GHZ (3 qubits)", "code_type": CodeType.QASM2, "backend": "dummy", "source_code": GHZ},
    "maxcut": {
        "label": "Max-cut QUBO (4 nodes)",
        "code_type": CodeType.QUBO,
        "backend": "qubo_exact",
        "source_code": MAXCUT,
    },
}

MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class SubmitJobForm(forms.Form):
    """The submit page. Field names are the API's (``code_type``, ``backend``, ``source_code``, ...)."""

    project = forms.ChoiceField(required=False)
    code_type = forms.ChoiceField(choices=[(c, c) for c in CodeType.values], initial=CodeType.QASM2)
    backend = forms.ChoiceField()
    source_code = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        help_text="One OpenQASM program (or a JSON list of programs); for QUBO a JSON matrix, a JSON list of "
        "matrices, or CSV rows.",
    )
    file = forms.FileField(required=False, help_text=".qasm, or a QUBO matrix as .json or .csv (one row per line).")
    shots = forms.IntegerField(initial=1024)
    job_priority = forms.IntegerField(initial=5, help_text="1 runs first, 10 last.")
    job_name = forms.CharField(required=False, max_length=200)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    transpiler = forms.ChoiceField(required=False, choices=[("", "backend default"), *((t, t) for t in TRANSPILERS)])
    optimization_level = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "default"), *((str(i), str(i)) for i in range(4))]
    )
    profiling = forms.MultipleChoiceField(
        required=False, choices=[(s, s) for s in PROFILING_STAGES], widget=forms.CheckboxSelectMultiple
    )
    callback_url = forms.CharField(required=False, max_length=2000, label="Callback URL")
    dry_run = forms.BooleanField(required=False, help_text="Parse and transpile; random counts; no backend time.")
    job_type = forms.ChoiceField(required=False, choices=[("", "run"), ("estimation", "estimation")])

    def __init__(self, *args, projects=(), backends=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["backend"].choices = [(b["name"], _backend_label(b)) for b in backends]
        projects = list(projects)
        if len(projects) > 1:
            self.fields["project"].required = True
            self.fields["project"].choices = [("", "choose a project")] + [
                (str(p.project_id), p.name or p.slug) for p in projects
            ]
        else:
            del self.fields["project"]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is None:
            return None
        name = upload.name.lower()
        if not name.endswith((".qasm", ".json", ".csv")):
            raise forms.ValidationError("must be a .qasm, .json or .csv file")
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("must be UTF-8 text") from exc
        return name.rsplit(".", 1)[1], text

    def payload(self, action: str) -> dict[str, Any]:
        """The ``submit_job`` body the form describes (checked afterwards by SubmitJobSerializer)."""
        data = self.cleaned_data
        code_type = data["code_type"]
        upload = data.get("file")
        if upload is not None:
            kind, text = upload
            if kind in ("json", "csv"):
                code_type = CodeType.QUBO
            source = parse_source(code_type, text, kind=kind)
        else:
            source = parse_source(code_type, data.get("source_code") or "")
        body: dict[str, Any] = {
            "code_type": code_type,
            "backend": data["backend"],
            "source_code": source,
            "shots": data["shots"],
            "job_priority": data["job_priority"],
            "job_name": data.get("job_name") or None,
            "tags": [t.strip() for t in (data.get("tags") or "").split(",") if t.strip()],
            "profiling": list(data.get("profiling") or []),
            "dry_run": bool(data.get("dry_run")) or action == "dry_run",
            "job_type": "estimation" if action == "estimate" else (data.get("job_type") or ""),
        }
        if data.get("transpiler"):
            body["transpiler"] = data["transpiler"]
        if data.get("optimization_level") is not None:
            body["transpiler_options"] = {"optimization_level": data["optimization_level"]}
        if data.get("callback_url"):
            body["callbacks"] = [{"url": data["callback_url"]}]
        return body


def _backend_label(backend: dict[str, Any]) -> str:
    limits = [f"≤{backend['max_shots']} shots", f"≤{backend['max_circuits']} entries"]
    if backend.get("max_qubits"):
        limits.append(f"≤{backend['max_qubits']} qubits")
    if backend.get("max_variables"):
        limits.append(f"≤{backend['max_variables']} variables")
    return f"{backend['name']} · {backend['status']} · {', '.join(backend['code_types'])} · {', '.join(limits)}"


def _number(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # left for the serializer to name as not a number


def parse_csv_matrix(text: str) -> list[list[Any]]:
    """A QUBO matrix as CSV: one row per line, numbers separated by commas (or semicolons, spaces)."""
    rows = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = next(csv.reader(io.StringIO(line))) if "," in line else re.split(r"[;\s]+", line.strip())
        rows.append([_number(cell) for cell in cells if cell.strip() != ""])
    return rows


def _is_matrix_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], list)
        and bool(value[0])
        and (isinstance(value[0][0], list))
    )


def parse_source(code_type: str, text: str, *, kind: str = "") -> list[Any]:
    """``source_code`` entries from the editor's text or an uploaded file's."""
    if code_type in CIRCUIT_CODE_TYPES:
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                value = loads(stripped)
            except ValueError:
                return [text]
            return value if isinstance(value, list) else [text]
        return [text] if stripped else []
    if kind == "csv":
        return [parse_csv_matrix(text)]
    stripped = text.strip()
    if not stripped:
        return []
    try:
        value = loads(stripped)
    except ValueError:
        if kind == "json":
            return [stripped]  # not JSON: the serializer says the entry is no matrix
        return [parse_csv_matrix(text)]
    if _is_matrix_list(value):
        return value
    return [value]


def source_as_text(code_type: str, source_code: list[Any]) -> str:
    """The inverse of ``parse_source``, to put a job's source back into the editor ("submit again")."""
    if code_type in CIRCUIT_CODE_TYPES and len(source_code) == 1 and isinstance(source_code[0], str):
        return source_code[0]
    if code_type == CodeType.QUBO and len(source_code) == 1:
        return json.dumps(source_code[0])
    return json.dumps(source_code, indent=1)


class JobUpdateForm(forms.Form):
    """Rename, retag, change priority (``update_job``)."""

    job_name = forms.CharField(required=False, max_length=200)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    job_priority = forms.IntegerField(min_value=1, max_value=10)

    def tag_list(self) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()))
