"""The floor's RQ task (benchmarks/bench_floors.py): nothing, so a worker's cost is RQ's own."""


def noop() -> None:
    return None
