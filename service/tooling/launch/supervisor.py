"""Keep TorchServe running under `ocrserve run`: a frontend that dies is started again.

TorchServe restarts its own dead workers, but nothing restarts the Java frontend: after a
kill -9 the gateway would answer 503 until someone intervened. The supervisor polls the
process and starts a fresh one (same config, same ports, new keys when token auth is on, which
the gateway re-reads on its own), backing off 1, 2, 4 ... 30 s between failed starts.
"""
from __future__ import annotations

import logging
import threading
import time

from service.tooling.launch.torchserve_process import TorchServe

log = logging.getLogger("ocrserve.supervisor")


class Supervisor:
    """A daemon thread restarting `torchserve` whenever its process exits unasked."""

    def __init__(self, torchserve: TorchServe, poll_s: float = 0.5, max_backoff_s: float = 30.0,
                 ready_timeout_s: float = 180.0):
        self.torchserve = torchserve
        self.poll_s = poll_s
        self.max_backoff_s = max_backoff_s
        self.ready_timeout_s = ready_timeout_s
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="torchserve-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, then stop TorchServe (whatever the supervisor was doing)."""
        self._stopping.set()
        with self._lock:
            self.torchserve.stop()
        if self._thread.ident is not None:  # stop() also follows a start-up that failed before start()
            self._thread.join(5)

    def _exited(self) -> bool:
        process = self.torchserve.process
        return process is not None and process.poll() is not None

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.wait(self.poll_s):
            if not self._exited():
                continue
            with self._lock:
                if self._stopping.is_set():
                    return
                code = self.torchserve.process.returncode
                log.warning("TorchServe exited with %s; restarting it", code)
                print(f"ocrserve: TorchServe exited with {code}; restarting it", flush=True)
                self.torchserve.stop()  # whatever workers the dead frontend left in its group
                try:
                    self.torchserve.start()
                    self.torchserve.wait_ready(self.ready_timeout_s)
                except (RuntimeError, TimeoutError, OSError) as exc:
                    log.error("TorchServe restart failed: %s; next try in %.0f s", exc, backoff)
                    self._stopping.wait(backoff)
                    backoff = min(2 * backoff, self.max_backoff_s)
                    continue
                self.restarts += 1
                backoff = 1.0
                print(f"ocrserve: TorchServe is back (restart {self.restarts})", flush=True)
