"""REST shape of backends: the fields of JSON-RPC ``get_backends``, shaped by the same function."""

from __future__ import annotations

from rest_framework import serializers

from backends.models import BackendStatus
from backends.presenters import backend_view


class BackendSerializer(serializers.Serializer):
    """A backend: its status, the code types it accepts, its limits and its queue length."""

    # Declares the fields for the schema; backends.presenters.backend_view shapes them, as for get_backends.
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=BackendStatus.choices)
    description = serializers.CharField()
    driver = serializers.CharField()
    code_types = serializers.ListField(child=serializers.CharField())
    max_qubits = serializers.IntegerField(allow_null=True)
    max_shots = serializers.IntegerField()
    max_circuits = serializers.IntegerField()
    max_variables = serializers.IntegerField(allow_null=True, help_text="Largest QUBO matrix accepted.")
    time_limit = serializers.IntegerField(help_text="Seconds a job may run before it fails (-105).")
    basis_gates = serializers.ListField(child=serializers.CharField(), allow_null=True)
    coupling_map = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()), allow_null=True, help_text="Null: all-to-all."
    )
    results_fetch_mode = serializers.ChoiceField(choices=["sync", "async"])
    queue_length = serializers.IntegerField(help_text="Jobs QUEUED on the backend.")

    def to_representation(self, instance):
        return backend_view(instance, instance.queued)
