"""Schema fuzzing of a live gateway with schemathesis: every operation of its published OpenAPI,
a bounded number of generated requests each, judged by schemathesis's own checks (no 5xx; status
code, content type and body all as the schema declares)."""
from __future__ import annotations

from dataclasses import dataclass, field

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

# What the published schema promises: status codes, content types and bodies as declared.
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
CHECKS = [not_a_server_error, *CONFORMANCE]


@dataclass
class FuzzReport:
    """What one fuzzing run sent and what failed ("METHOD /path -> status: first line of the failure")."""

    operations: int = 0
    calls: int = 0
    server_errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, label: str, status: int, error: Failure | FailureGroup) -> None:
        for failure in error.exceptions if isinstance(error, FailureGroup) else [error]:
            self.failures.append(f"{label} -> {status}: {failure.title}: {failure.message[:200]}")


def fuzz(url: str, max_examples: int = 10, headers: dict[str, str] | None = None,
         skip: tuple[str, ...] = (), checks: list = CHECKS) -> FuzzReport:
    """Fuzz every operation of `url`/openapi.json except the labels ("POST /models/{name}") in `skip`.

    `headers` go with every request (the admin key, where the target's models may be loaded and
    unloaded at will). Examples are drawn afresh each run (no example database). `checks`:
    CONFORMANCE alone where 5xx are expected (TorchServe stopped) and must only be declared."""
    schema = schemathesis.openapi.from_url(f"{url.rstrip('/')}/openapi.json")
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in skip:
            continue
        report.operations += 1
        _fuzz_operation(operation, label, (url, headers, checks), max_examples, report)
    return report


def _fuzz_operation(operation, label: str, call: tuple, max_examples: int, report: FuzzReport) -> None:
    url, headers, checks = call
    # Valid requests and ones schemathesis makes invalid on purpose (wrong types, missing fields).
    cases = st.one_of(operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                      operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=max_examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def one(case) -> None:
        response = case.call(base_url=url, headers=headers, timeout=120)
        report.calls += 1
        report.statuses[response.status_code] += 1
        report.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Failure, FailureGroup) as error:  # recorded, not raised: one run reports every operation's
            report.add(label, response.status_code, error)

    one()
