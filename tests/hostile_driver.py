"""Drivers for the hostile-job tests: each fails the way native code does, for real.

``panicky`` raises a real pyo3 PanicException (from qiskit's OpenQASM 2 parser, bypassing the size
scan); ``aborting`` aborts its process as a failed native allocation does; ``hog`` allocates until
its work horse's memory cap stops it, and refuses to start without a cap, so no test can take the
machine's memory.
"""

from __future__ import annotations

import os
import resource

from qiskit import qasm2

from drivers.base import Driver, DriverJob, Report
from drivers.registry import register

PANIC_SOURCE = "OPENQASM 2.0;\nqreg q[1000000000000000000000000000000];\n"


@register("panicky")
class PanickyDriver(Driver):
    def run(self, backend, job: DriverJob, report: Report) -> None:
        qasm2.loads(PANIC_SOURCE)


@register("aborting")
class AbortingDriver(Driver):
    def run(self, backend, job: DriverJob, report: Report) -> None:
        os.abort()


@register("hog")
class HogDriver(Driver):
    def run(self, backend, job: DriverJob, report: Report) -> None:
        if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
            raise RuntimeError("refusing to allocate without a memory cap")
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))
