"""What the gateway holds for its lifetime: settings, zoo, one TorchServe client, the backend."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.gateway.backends import Backend
from service.gateway.jobs.service import JobService
from service.gateway.observability import Metrics
from service.gateway.settings import Settings
from service.gateway.torchserve_client import TorchServeClient
from service.gateway.zoo import Zoo


@dataclass
class AppState:
    settings: Settings
    zoo: Zoo
    client: TorchServeClient
    backend: Backend
    metrics: Metrics
    jobs: JobService | Exception | None = None  # the reason when jobs are off


def get_state(request: Request) -> AppState:
    return request.app.state.ocrserve


State = Annotated[AppState, Depends(get_state)]
