"""Schema fuzzing (schemathesis) of the live gateway's published OpenAPI, healthy and with its
TorchServe gone; the full run is part 2 of `python -m bench.reliability`."""
from __future__ import annotations

from bench.reliability.fuzz import CONFORMANCE, fuzz
from service.gateway.settings import Settings
from service.tooling.launch.ports import free_port
from tests.integration.servers import running_gateway


def test_live_openapi_fuzz_finds_no_server_error_and_no_undeclared_answer(gateway):
    # No admin key: the session's models must not be unloaded by a generated name; the admin
    # routes then answer 401, which their schema declares.
    report = fuzz(str(gateway.base_url), max_examples=6)
    assert report.operations >= 15, report
    assert report.failures == [] and report.server_errors == 0, report.failures
    assert report.calls > 3 * report.operations and report.statuses[200] > 0, report.statuses


def test_gateway_without_torchserve_answers_only_what_its_schema_declares():
    """Regression: /readyz and /catalog answered 503 without declaring it (schemathesis found it)."""
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with running_gateway(Settings(inference_url=gone, management_url=gone, admin_key="k" * 24)) as url:
        report = fuzz(url, max_examples=6, headers={"authorization": "Bearer " + "k" * 24}, checks=CONFORMANCE)
    assert report.failures == [], report.failures
    assert report.statuses[503] >= 3, report.statuses  # the TorchServe-down answers were exercised
