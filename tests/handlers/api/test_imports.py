"""handlers/api is the shared contract: importing it pulls in no framework or model runtime."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

import handlers.api
from service.gateway.zoo import REPO_ROOT

HEAVY = ("torch", "cv2", "onnxruntime", "PIL", "fastapi", "pydantic", "httpx", "service")


def test_the_contract_imports_only_the_standard_library_and_numpy():
    modules = [f"handlers.api.{m.name}" for m in pkgutil.iter_modules(handlers.api.__path__)]
    code = (f"import sys; [__import__(m) for m in {modules!r}]; "
            f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert len(modules) >= 5 and out.stdout.strip() == ""
