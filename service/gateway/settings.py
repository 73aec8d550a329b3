"""The one settings object of the gateway and launcher: environment (OCRSERVE_*) or a .env file."""
from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from handlers.ops.image_io import DEFAULT_MAX_PIXELS
from service.gateway.locations import work_root
from service.gateway.zoo import DEFAULT_ZOO


class Settings(BaseSettings):
    """Validated at start-up; a bad value stops the process with a message naming it."""

    model_config = SettingsConfigDict(env_prefix="OCRSERVE_", env_file=None, extra="ignore")

    # Where TorchServe is: one URL, or a comma-separated list with one entry per replica
    # (management URLs in the same order as the inference URLs).
    inference_url: Annotated[list[AnyHttpUrl], NoDecode] = [AnyHttpUrl("http://127.0.0.1:8080")]
    management_url: Annotated[list[AnyHttpUrl], NoDecode] = [AnyHttpUrl("http://127.0.0.1:8081")]
    # A replica whose connection failed is skipped for this long before it is tried again.
    replica_cooldown_s: float = Field(5.0, gt=0)
    # TorchServe token auth: the gateway reads the keys from TorchServe's key_file.json. Each
    # TorchServe makes its own keys, so with several replicas give one file per replica
    # (comma-separated, in the order of the URLs); one file is shared by every replica.
    torchserve_key_file: Annotated[list[Path], NoDecode] = []
    # Management routes of the gateway need this key; without one they are switched off.
    admin_key: SecretStr | None = None

    zoo_path: Path = DEFAULT_ZOO
    model_store: Path = work_root() / "model_store"

    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=10_000)
    # Threads each TorchServe worker gives its runtime (handed to the workers by the launcher).
    threads: int = Field(1, ge=1, le=64)
    max_lines: int = Field(1000, ge=1)  # text regions per page (413 above): each costs a crop and a read
    # Recogniser columns one page may cost (413 above): this base plus a number per byte of its file
    # (service/gateway/work_budget.py: real pages use under 0.3 per byte, a page of dashes 15).
    max_rec_columns: int = Field(60_000, ge=0)
    rec_columns_per_byte: float = Field(4.0, ge=0)
    upstream_timeout_s: float = Field(120.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    # Crops per recognition request sent to TorchServe (one request per chunk, sent concurrently).
    rec_chunk_size: int = Field(32, ge=1, le=1024)
    text_direction_default: bool = False
    # Models /readyz waits for (comma-separated); empty: the zoo's defaults. `ocrserve run --models`
    # sets it to the models it was asked to load.
    ready_models: Annotated[list[str], NoDecode] = []
    # Documents (PDF, multi-page TIFF): most pages one request may OCR (413 over it), and how
    # many pages of one document are in flight at once (TorchServe's workers share them).
    max_pages: int = Field(200, ge=1, le=100_000)
    page_concurrency: int = Field(3, ge=1, le=64)
    # Admission control (service/gateway/guards.py): pipeline requests running at once, waiting beyond
    # those, and how long one may wait; past that the gateway answers 503 with Retry-After.
    # None: derived from the capacity, one running and one waiting per CPU core this process may
    # use (TorchServe's workers share those cores under `ocrserve run`; set both when it runs elsewhere).
    max_in_flight: int | None = Field(None, ge=1)
    max_queued: int | None = Field(None, ge=0)
    queue_timeout_s: float = Field(10.0, gt=0)
    # Optional: a queued request also waits at most this times the fastest recent service time.
    queue_wait_ratio: float | None = Field(None, gt=0)
    # Slow clients (service/gateway/http_protocol.py): request headers must arrive within this long;
    # an idle keep-alive connection is closed after keep_alive_timeout_s.
    header_timeout_s: float = Field(10.0, gt=0)
    keep_alive_timeout_s: float = Field(5.0, gt=0)

    # Used by `ocrserve run`, which starts TorchServe itself and points the gateway at it.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=1, le=65535)
    ts_inference_port: int = Field(8080, ge=1, le=65535)
    ts_management_port: int = Field(8081, ge=1, le=65535)
    ts_metrics_port: int = Field(8082, ge=1, le=65535)
    ts_grpc_inference_port: int = Field(7070, ge=1, le=65535)
    ts_grpc_management_port: int = Field(7071, ge=1, le=65535)
    ts_token_auth: bool = False
    ts_token_expiration_min: float = Field(60, gt=0)
    # auto: TorchServe gets every GPU `nvidia-smi -L` lists (number_of_gpu); cpu: none (service/tooling/launch/accel.py)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    run_dir: Path = work_root() / "run"

    # Asynchronous jobs (/jobs): a SQLite file under jobs_dir (default run_dir/jobs), or a Redis
    # shared by several gateways. Finished jobs are kept jobs_ttl_s, then removed with their data.
    jobs_dir: Path | None = None
    jobs_redis_url: str | None = None
    jobs_ttl_s: float = Field(24 * 3600, gt=0)
    jobs_max_bytes: int = Field(2 * 1024 ** 3, ge=1024 * 1024)
    jobs_max_pending: int = Field(100, ge=1)
    jobs_workers: int = Field(1, ge=0, le=16)  # 0: accept jobs, let other gateways run them
    jobs_page_concurrency: int = Field(2, ge=1, le=32)
    jobs_lease_s: float = Field(30.0, gt=0)  # a running job whose heartbeat is older is run again
    jobs_housekeeping_s: float = Field(10.0, gt=0)

    @property
    def jobs_path(self) -> Path:
        return self.jobs_dir or self.run_dir / "jobs"

    @field_validator("inference_url", "management_url", "torchserve_key_file", "ready_models", mode="before")
    @classmethod
    def _split_lists(cls, value):
        if value is None:
            return []
        if isinstance(value, Path):
            return [value]
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _replicas_pair_up(self) -> "Settings":
        if not self.inference_url or len(self.inference_url) != len(self.management_url):
            raise ValueError("OCRSERVE_INFERENCE_URL and OCRSERVE_MANAGEMENT_URL must list the same "
                             f"number of replicas (got {len(self.inference_url)} and {len(self.management_url)})")
        if len(self.torchserve_key_file) not in (0, 1, len(self.inference_url)):
            raise ValueError(f"OCRSERVE_TORCHSERVE_KEY_FILE lists {len(self.torchserve_key_file)} files for "
                             f"{len(self.inference_url)} replicas: give one file, or one per replica")
        return self

    @model_validator(mode="after")
    def _admin_key_length(self) -> "Settings":
        if self.admin_key is not None and len(self.admin_key.get_secret_value()) < 16:
            raise ValueError("OCRSERVE_ADMIN_KEY must be at least 16 characters")
        return self


def load_settings() -> Settings:
    """Settings from the environment, plus the file named by OCRSERVE_ENV_FILE if set
    (environment variables win over the file)."""
    return settings_from(os.environ)


class _FromMapping(Settings):
    """Settings read from the values given (and an env file), never from os.environ."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, dotenv_settings


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Settings from the OCRSERVE_* variables of `environ` plus the file its OCRSERVE_ENV_FILE
    names (the variables win over the file); this process's own environment is not read."""
    prefix = "OCRSERVE_"
    values = {key[len(prefix):].lower(): value for key, value in environ.items()
              if key.upper().startswith(prefix) and key[len(prefix):].lower() in Settings.model_fields}
    env_file = environ.get("OCRSERVE_ENV_FILE")
    if env_file and not Path(env_file).is_file():
        raise ValueError(f"OCRSERVE_ENV_FILE={env_file} does not exist")
    return _FromMapping(_env_file=env_file or None, **values)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
