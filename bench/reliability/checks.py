"""Sending corpus cases and judging the answers (shared by the suite and the tests)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import httpx

from bench.reliability.corpus import Case

# What an error message must never show: stack traces, file system paths, internal addresses.
_LEAKS = re.compile(r"Traceback|File \"|/root/|/work/|/home/|/usr/lib|site-packages|\.py\"|/tmp/")


@dataclass
class Verdict:
    sent: int = 0
    server_errors: list[str] = field(default_factory=list)
    bad_schema: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    good_failures: list[str] = field(default_factory=list)
    good_checks: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")

    def problems(self) -> list[str]:
        return self.server_errors + self.bad_schema + self.leaks + self.good_failures


def send(client: httpx.Client, case: Case, admin_key: str) -> httpx.Response:
    headers = dict(case.headers)
    if case.admin:
        headers["authorization"] = f"Bearer {admin_key}"
    return client.request(case.method, case.path, params=case.params, headers=headers, content=case.content,
                          files=case.files, data=case.data)


def judge(case: Case, response: httpx.Response, verdict: Verdict) -> None:
    """0 server errors, the error schema on every 4xx, nothing internal in any message."""
    verdict.statuses[response.status_code] = verdict.statuses.get(response.status_code, 0) + 1
    if response.status_code >= 500:
        verdict.server_errors.append(f"{case.name}: {response.status_code} {response.text[:200]}")
    if response.status_code >= 400:
        try:
            body = response.json()
            ok = isinstance(body, dict) and body.get("status") == response.status_code and \
                isinstance(body.get("error"), str) and isinstance(body.get("message"), str)
        except ValueError:
            ok = False
        if not ok:
            verdict.bad_schema.append(f"{case.name}: {response.status_code} {response.text[:200]!r}")
    if _LEAKS.search(response.text):
        verdict.leaks.append(f"{case.name}: {response.text[:300]!r}")


def run_cases(client: httpx.Client, cases: list[Case], admin_key: str, good: bytes, expected: list[str],
              every: int = 25) -> Verdict:
    """Send every case; after each `every` bad ones, the good image must read as `expected`."""
    verdict = Verdict()
    for index, case in enumerate(cases, 1):
        start = time.perf_counter()
        try:
            response = send(client, case, admin_key)
        except (httpx.InvalidURL, httpx.LocalProtocolError):  # the client itself refused to send it
            continue
        except httpx.HTTPError as exc:
            verdict.server_errors.append(f"{case.name}: no answer ({type(exc).__name__})")
            continue
        seconds = time.perf_counter() - start
        verdict.sent += 1
        if seconds > verdict.slowest[0]:
            verdict.slowest = (round(seconds, 2), case.name)
        judge(case, response, verdict)
        if index % every == 0 or index == len(cases):
            verdict.good_checks += 1
            texts = read_texts(client, good)
            if texts != expected:
                verdict.good_failures.append(f"after {case.name}: read {texts}")
    return verdict


def read_texts(client: httpx.Client, image: bytes) -> list[str] | str:
    response = client.post("/ocr", files={"file": ("good", image)})
    if response.status_code != 200:
        return f"status {response.status_code}"
    return [line["text"] for line in response.json()["pages"][0]["result"]]
