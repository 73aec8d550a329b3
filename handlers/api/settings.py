"""The workers' settings, read from their environment in one place.

The launcher (`ocrserve run` via service/tooling/launch/runner.py, the test fixtures, the TorchServe container
entrypoint via docker/render_config.py) derives them from the gateway's Settings and puts them
into the workers' environment with `to_env`; a worker reads them once with `worker_settings()`.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class WorkerSettings:
    """What a handler needs beyond its archive: the decode limit and its thread count."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 1

    def __post_init__(self) -> None:
        if self.max_pixels < 1 or self.threads < 1:
            raise ValueError(f"worker settings must be positive: {self}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "WorkerSettings":
        """OCRSERVE_MAX_PIXELS and OCRSERVE_THREADS; absent ones keep their defaults."""
        values = {}
        for field, name in _ENV.items():
            raw = environ.get(name, "").strip()
            if raw:
                try:
                    values[field] = int(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r} is not an integer") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment variables that give a worker these settings."""
        return {name: str(getattr(self, field)) for field, name in _ENV.items()}


_ENV = {"max_pixels": "OCRSERVE_MAX_PIXELS", "threads": "OCRSERVE_THREADS"}


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    """This worker's settings, built from its environment once."""
    return WorkerSettings.from_env(os.environ)
