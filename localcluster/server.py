"""The API server: store + registry + HTTP, started in a background thread."""

from __future__ import annotations

import http.client
import threading
import time

from localcluster.endpoints import Endpoints
from localcluster.http_handler import ApiServer
from localcluster.registry import Registry
from localcluster.store import Store


class LocalApiServer:
    def __init__(self, store: Store | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 bookmark_interval: float = 60.0, event_window: int = 10000) -> None:
        self.store = store or Store(event_window)
        self.registry = Registry(self.store)
        self.registry.bootstrap()
        self.httpd = ApiServer((host, port), Endpoints(self.registry, bookmark_interval))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> None:
        """Serve in a background thread; return once GET /version answers 200 (RuntimeError when
        it does not within `ready_timeout` seconds)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + ready_timeout
        while not self._answers():
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the API server at {self.url} did not answer /version within {ready_timeout:g} s")
            time.sleep(0.05)

    def _answers(self) -> bool:
        host = self.httpd.server_address[0]
        conn = http.client.HTTPConnection(host if host not in ("", "0.0.0.0") else "127.0.0.1", self.port,
                                          timeout=2.0)
        try:
            conn.request("GET", "/version")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        """Also safe when `start()` was never called: `shutdown()` waits for a serve loop to end,
        so it is only asked of one that was started (else it would wait forever)."""
        self.httpd.stopping = True
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
