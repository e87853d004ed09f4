"""The memory cap a job runs under (drivers.memory), in a process of its own: lifting it after a job
ran out of memory leaves room to write how the job ended."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import resource
from drivers import memory
memory.apply_cap(512 * 2**20)
try:
    bytearray(1024 * 2**20)
except MemoryError:
    print("capped")
memory.lift_cap()
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
assert soft == hard, (soft, hard)
bytearray(1024 * 2**20)
print("lifted")
"""


def test_a_lifted_cap_gives_the_room_back():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["capped", "lifted"], run.stderr
