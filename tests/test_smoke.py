from tests.conftest import result_of
from tests.factories import BELL


def test_bell_job_completes(rpc, tenant, run_worker):
    """A Bell job submitted over JSON-RPC runs on a real worker and comes back as counts."""
    job = result_of(
        rpc("submit_job", {"body": {"code_type": "qasm2", "source_code": [BELL], "backend": "dummy"}}, who=tenant)
    )
    run_worker()
    results = result_of(rpc("get_job_results", {"body": {"job_id": job["job_id"]}}, who=tenant))
    assert results["job_status"] == "COMPLETED"
    assert set(results["results"][0]["results"]) <= {"00", "11"}
