"""One TorchServe with the default models and one gateway in front of it, for the whole session (for
each worker process under pytest-xdist)."""
from __future__ import annotations

import httpx
import pytest

from tests.integration.servers import gateway_settings, running_gateway, running_torchserve, torchserve_config

ADMIN_KEY = "integration-admin-key-0123"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def archives_ready(zoo, weights_ready, tmp_path_factory):
    """Archives of the code under test: rebuilt here when any handler source changed. Under
    `make test` (pytest-xdist) each worker process checks them: a lock beside the workers' temporary
    folders lets the first rebuild while the other waits, then finds them current."""
    from filelock import FileLock

    from service.tooling.packaging.archive import build_archive

    with FileLock(tmp_path_factory.getbasetemp().parent / "model_store.lock"):
        for name in zoo.names():
            if zoo.get(name).installed():
                build_archive(zoo.get(name))


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory, zoo, archives_ready):
    config = torchserve_config(tmp_path_factory.mktemp("ts"), zoo.default_names())
    with running_torchserve(config) as server:
        yield server


@pytest.fixture(scope="session")
def gateway(torchserve, tmp_path_factory):
    settings = gateway_settings(torchserve.config, admin_key=ADMIN_KEY, jobs_dir=tmp_path_factory.mktemp("jobs"))
    with running_gateway(settings) as url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client


@pytest.fixture(scope="session")
def inference(torchserve):
    with httpx.Client(base_url=torchserve.config.inference_url, timeout=120) as client:
        yield client
