"""A work process's memory against its cap (RLIMIT_AS), to tell "the job met its memory limit" from
any other failure.

Under an address-space cap, native libraries fail in their own words ("error return without
exception set", "Cannot allocate memory by posix_memalign") or crash outright. What gives the cap
away is growth: a job that failed after taking a good share of the room it had under the cap met
the cap. Growing containers double, so the last allocation that succeeded already holds about a
third of that room; a quarter leaves a margin.
"""

from __future__ import annotations

import resource

NEAR_CAP_SHARE = 0.25
_start: tuple[int, int] | None = None  # (size, peak) when the cap was applied


def vm_bytes() -> tuple[int, int]:
    """This process's virtual size now and its peak so far (the kernel's VmSize and VmPeak), in
    bytes; zeros where unknown."""
    fields = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("VmSize:", "VmPeak:")):
                    fields[line[:6]] = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return fields.get("VmSize", 0), fields.get("VmPeak", 0)


def vm_peak_bytes() -> int:
    """This process's peak virtual size so far (the kernel's own VmPeak), 0 where unknown."""
    return vm_bytes()[1]


def peak_since(start_peak: int) -> int:
    """The largest this process has been since its peak was ``start_peak``. A long-lived work
    process (jobs/horse.py) may have been larger for an earlier job: then VmPeak has not moved and
    the current size is the best lower bound there is."""
    size, peak = vm_bytes()
    return peak if peak > start_peak else size


def cap_bytes() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def apply_cap(limit_bytes: int) -> None:
    """Cap this process's address space (never above a hard limit already set) and note where it
    started, the baseline of ``near_cap``."""
    global _start
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    _start = vm_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


def lift_cap() -> None:
    """Undo ``apply_cap`` (up to the hard limit): a job that ran out of memory in Python may still hold
    it, in its traceback's frames, while its failure is written."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def grew_near_cap(start: int, peak: int, cap: int) -> bool:
    """Whether a process that started at ``start`` bytes and peaked at ``peak`` came close to ``cap``."""
    room = cap - start
    return room > 0 and peak - start >= NEAR_CAP_SHARE * room


def near_cap() -> bool:
    """Whether this process, capped by ``apply_cap``, has grown close to its cap."""
    cap = cap_bytes()
    if cap is None or _start is None:
        return False
    start_size, start_peak = _start
    return grew_near_cap(start_size, peak_since(start_peak), cap)
