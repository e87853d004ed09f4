"""drivers.drawing: what a job records of each circuit as it ran, for its drawings."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit

from drivers.drawing import load_transpiled, transpiled_source


def test_a_circuit_openqasm_2_can_say_is_recorded_in_it_and_read_back():
    circuit = QuantumCircuit(2, 2)
    circuit.rz(0.5, 0)
    circuit.sx(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    source = transpiled_source(circuit)
    assert source.startswith("OPENQASM 2.0;")
    assert load_transpiled(source).count_ops() == circuit.count_ops()


def test_a_dynamic_circuit_falls_back_to_openqasm_3():
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(0)
    source = transpiled_source(circuit)
    assert source.startswith("OPENQASM 3.0;")
    assert "if_else" in load_transpiled(source).count_ops()


def test_too_large_to_draw_records_nothing():
    assert transpiled_source(QuantumCircuit(41)) is None


def test_a_recorded_source_reads_no_file_of_the_server(tmp_path, monkeypatch):
    """Read back, an OpenQASM 2 record resolves only the standard library's include, never a file."""
    (tmp_path / "gates.inc").write_text("gate mine a { U(pi,0,pi) a; }\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="unable to find 'gates.inc'"):
        load_transpiled('OPENQASM 2.0;\ninclude "gates.inc";\nqreg q[1];\nmine q[0];\n')
