"""The API server: store + registry + HTTP, started in a background thread."""

from __future__ import annotations

import threading

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

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="api-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
