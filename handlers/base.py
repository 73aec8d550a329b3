"""The project's TorchServe handler base: load once, decode rows, batch contract, per-row errors."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from handlers.api.errors import OcrServeError, as_error
from handlers.api.settings import DEFAULT_MAX_PIXELS, worker_settings
from handlers.api.spec import ModelSpec
from handlers.registry import build_model
from handlers.requests import Payload, parse_row
from handlers.runtime import Device

log = logging.getLogger(__name__)


class OcrHandler:
    """N rows in, N results out; a bad row fails alone with its own status and JSON message.

    Subclasses set `task` and `option_names` and implement `infer` (a batch of payloads ->
    one JSON-able result per payload); everything else is shared.
    """

    task = ""
    option_names: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.model: Any = None
        self.initialized = False
        self.max_pixels = DEFAULT_MAX_PIXELS

    def initialize(self, context: Any) -> None:
        """Build the model from the unpacked archive on the device TorchServe assigned."""
        props = context.system_properties
        spec = ModelSpec.from_archive(Path(props["model_dir"]))
        if spec.task != self.task:
            raise ValueError(f"archive {spec.name} is a {spec.task} model, this handler serves {self.task}")
        device = Device.from_gpu_id(props.get("gpu_id"))
        settings = worker_settings()
        threads, self.max_pixels = settings.threads, settings.max_pixels
        self.load(spec, device, threads)
        log.info("loaded %s (%s/%s) on %s with %d thread(s)", spec.name, spec.family, spec.runtime, device, threads)

    def load(self, spec: ModelSpec, device: Device = Device(), threads: int = 1) -> None:
        """Build the model directly (the in-process pipeline and tests use this)."""
        self.model = build_model(spec, device, threads)
        self.initialized = True

    def infer(self, payloads: list[Payload]) -> list[Any]:
        raise NotImplementedError

    def handle(self, data: list[dict], context: Any) -> list[str]:
        """TorchServe entry: one JSON string (or error body) per row, in order."""
        results = self.run_rows(data)
        out = []
        for idx, result in enumerate(results):
            if isinstance(result, OcrServeError):
                context.set_response_status(result.status, result.message, idx)
                result = result.to_json()
            context.set_response_content_type(idx, "application/json")
            out.append(json.dumps(result, separators=(",", ":"), ensure_ascii=False))
        return out

    def parse(self, row: dict) -> Any:
        """One row -> what `infer` takes (images here; KIE and NER rows carry more); raising
        fails this row alone."""
        return parse_row(row, self.max_pixels, self.option_names)

    def run_rows(self, rows: list[dict]) -> list[Any]:
        """Parse and infer every row; errors come back in place as OcrServeError."""
        results: list[Any] = [None] * len(rows)
        parsed: list[tuple[int, Any]] = []
        for idx, row in enumerate(rows):
            try:
                parsed.append((idx, self.parse(row or {})))
            except Exception as exc:  # noqa: BLE001 - every failure becomes this row's error
                results[idx] = as_error(exc)
        for idx, result in self._infer_isolated(parsed):
            results[idx] = result
        return results

    def _infer_isolated(self, parsed: list[tuple[int, Payload]]) -> list[tuple[int, Any]]:
        """Infer the batch at once; if that fails, row by row so only the culprit fails."""
        if not parsed:
            return []
        try:
            return list(zip([i for i, _ in parsed], self.infer([p for _, p in parsed])))
        except Exception as exc:  # noqa: BLE001
            if len(parsed) == 1:
                if not isinstance(exc, OcrServeError):
                    log.exception("inference failed")
                return [(parsed[0][0], as_error(exc))]
        return [pair for item in parsed for pair in self._infer_isolated([item])]
