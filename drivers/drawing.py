"""Circuit drawings: qiskit's matplotlib drawer, saved as SVG.

Drawing costs far more than running a small circuit (a Bell pair: about 35 ms to draw, under 1 ms
to simulate), so it is never done while a job runs: a worker draws a job's circuits after it
ended, once, and the pages serve what was stored. A picture of thousands of gates is unreadable
and slow to make, so past ``MAX_QUBITS`` or ``MAX_OPERATIONS`` there is a note instead.
"""

from __future__ import annotations

import io
import threading

from qiskit import QuantumCircuit, qasm2, qasm3

from drivers import qasm
from drivers.base import Drawing
from drivers.errors import EntryError

MAX_QUBITS = 40
MAX_OPERATIONS = 400
# Entries drawn per job: a drawing task holds a worker (it is never preempted), so a job of 300
# entries must not hold one for minutes; the rest get a note.
MAX_DRAWN_ENTRIES = 8
# Columns of gates per row of the picture before it folds onto the next.
FOLD = 30
_lock = threading.Lock()  # pyplot's figure registry is process-wide state


def refusal(circuit: QuantumCircuit) -> str:
    """Why ``circuit`` is not drawn ("" when it is)."""
    if circuit.num_qubits > MAX_QUBITS:
        return f"not drawn: {circuit.num_qubits} qubits, over the {MAX_QUBITS} a drawing shows"
    if circuit.size() > MAX_OPERATIONS:
        return f"not drawn: {circuit.size()} operations, over the {MAX_OPERATIONS} a drawing shows"
    return ""


def svg(circuit: QuantumCircuit) -> str:
    """The circuit drawn by qiskit's matplotlib drawer, as an SVG document (text kept as text, so it
    stays small and searchable; ids salted, so the same circuit always gives the same bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from qiskit.visualization import circuit_drawer

    out = io.StringIO()
    with _lock, matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "portal"}):
        figure = circuit_drawer(circuit, output="mpl", fold=FOLD, idle_wires=False)
        try:
            figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
        finally:
            plt.close(figure)
    return out.getvalue()


def transpiled_source(circuit: QuantumCircuit) -> str | None:
    """What ``EntryResult.transpiled`` records of a circuit that ran: OpenQASM 2 where it can say it
    (0.06 ms for a transpiled Bell circuit, against 0.37 ms for OpenQASM 3's exporter: a tenth of a
    tiny job's CPU went there), else OpenQASM 3; None when the circuit is too large to draw or exports
    to neither."""
    if refusal(circuit):
        return None
    try:
        return qasm2.dumps(circuit)
    except Exception:  # not expressible in OpenQASM 2 (a classical condition on a bit, say)
        pass
    try:
        return qasm3.dumps(circuit)
    except Exception:  # nor in OpenQASM 3: nothing to draw from, nothing lost
        return None


def load_transpiled(source: str) -> QuantumCircuit:
    """The circuit ``transpiled_source`` recorded."""
    if source.startswith("OPENQASM 2"):
        # As drivers.qasm parses a user's source: no include resolved from the server's files.
        return qasm2.loads(source, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    return qasm3.loads(source)


def circuit_drawings(
    code_type: str, sources: list, transpiled: list[str | None], *, max_qubits: int | None, backend_name: str
) -> list[Drawing]:
    """Each entry's circuit as submitted (parsed again, under the same limits as when it ran) and as
    it ran, drawn; a note where either cannot be."""
    drawings = []
    for index, source in enumerate(sources):
        if index >= MAX_DRAWN_ENTRIES:
            note = f"not drawn: only the first {MAX_DRAWN_ENTRIES} entries of a job are drawn"
            drawings += [Drawing(index, "submitted", None, note), Drawing(index, "transpiled", None, note)]
            continue
        try:
            submitted = qasm.parse(code_type, source, max_qubits=max_qubits, backend_name=backend_name)
        except EntryError as exc:
            drawings.append(Drawing(index, "submitted", None, f"not drawn: {exc.detail}"))
        else:
            drawings.append(_drawing(index, "submitted", submitted))
        ran = transpiled[index] if index < len(transpiled) else None
        if ran is None:
            drawings.append(Drawing(index, "transpiled", None, "not drawn: the circuit did not run, or is too large"))
            continue
        try:
            circuit = load_transpiled(ran)
        except Exception:  # recorded by this portal's own worker; a failure here is not the user's
            drawings.append(Drawing(index, "transpiled", None, "not drawn: the circuit as run could not be read back"))
            continue
        drawings.append(_drawing(index, "transpiled", circuit))
    return drawings


def _drawing(index: int, stage: str, circuit: QuantumCircuit) -> Drawing:
    note = refusal(circuit)
    return Drawing(index, stage, None if note else svg(circuit), note)
