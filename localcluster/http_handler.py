"""The HTTP/1.1 transport: keep-alive request handling, body parsing (§5), chunked watches (§9),
and the one place where ApiError becomes a `Status` response (§11)."""

from __future__ import annotations

import json
import logging
import select
import socket
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from localcluster import discovery, errors, metrics_api, pod_logs, watch
from localcluster.endpoints import Endpoints, Request, Response, flag
from localcluster.objects import dumps
from localcluster.registry import APPLY_PATCH, PATCH_TYPES
from localcluster.routing import DiscoveryRoute, ResourceRoute, resolve

log = logging.getLogger("localcluster.http")

JSON_TYPES = ("", "application/json", "*/*")
LogReader = Callable[[str, str, dict[str, str]], str]  # (namespace, pod, query) -> text


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        super().__init__(address, ApiHandler)
        self.endpoints = endpoints
        self.metrics: metrics_api.MetricsProvider | None = None
        self.log_reader: LogReader | None = None
        self.log_path: pod_logs.LogPath | None = None
        self.stopping = False

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    _streaming = False
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- dispatch --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        self._streaming = False
        try:
            raw = self._read_body()
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            route = resolve(url.path)
            if isinstance(route, DiscoveryRoute):
                if method != "GET":
                    raise errors.method_not_allowed()
                if route.document == "health":
                    self._send(Response(200, "ok", content_type="text/plain; charset=utf-8"))
                else:
                    self._send(Response(200, self._discovery(route)))
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            request = Request(method, route, query, self._parse_body(method, content_type, raw),
                              content_type, self.headers.get("User-Agent") or "")
            self._resource(request)
        except errors.ApiError as e:
            self._send_safely(Response(e.code, e.to_status()))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # the boundary: one bad request must not kill the server
            log.exception("%s %s failed", method, self.path)
            self._send_safely(Response(500, errors.internal(f"{type(e).__name__}: {e}").to_status()))

    def _resource(self, request: Request) -> None:
        route = request.route
        endpoints = self.server.endpoints
        if route.rtype.group_version == metrics_api.GROUP_VERSION:
            if request.method != "GET" or flag(request.query, "watch"):
                raise errors.method_not_allowed()
            body = metrics_api.serve(self.server.metrics, route, request.query.get("labelSelector"))
            self._send(Response(200, body))
            return
        if request.method == "GET":
            if route.subresource == "log":
                response = self._pod_log(route, request.query)
                if response is not None:
                    self._send(response)
            elif flag(request.query, "watch"):
                self._watch(endpoints.watch_request(request))
            else:
                self._send(endpoints.get(request))
            return
        handler = {"POST": endpoints.post, "PUT": endpoints.put, "PATCH": endpoints.patch,
                   "DELETE": endpoints.delete}[request.method]
        self._send(handler(request))

    def _discovery(self, route: DiscoveryRoute) -> dict[str, Any]:
        if route.document == "version":
            return discovery.version()
        if route.document == "api":
            return discovery.api_versions(self.server.port)
        if route.document == "apis":
            return discovery.api_group_list()
        found = (discovery.api_group(route.group_version) if route.document == "group"
                 else discovery.resource_list(route.group_version))
        if found is None:
            raise errors.path_not_found()
        return found

    def _pod_log(self, route: ResourceRoute, query: dict[str, str]) -> Response | None:
        endpoints = self.server.endpoints
        pod = endpoints.store.get_ref("pods", route.namespace, route.name or "")
        if pod is None:
            raise errors.not_found("pods", route.name or "")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container")
        if container is None and len(containers) > 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {route.name}, choose one of: {containers}")
        if container is not None and container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {route.name}")
        if self.server.log_reader is None:
            raise errors.bad_request(f"container {containers[0] if containers else ''} has no logs")
        container = container or containers[0]
        text = self.server.log_reader(route.namespace or "", route.name or "", {**query, "container": container})
        if flag(query, "follow") and self.server.log_path is not None:
            cut = query.get("tailLines") or query.get("sinceSeconds")
            self._stream_log(pod_logs.follow(endpoints.store, self.server.log_path, route.namespace or "",
                                             route.name or "", container, text if cut else None,
                                             self._client_alive))
            return None
        return Response(200, text, content_type="text/plain")

    # ---- bodies ----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    @staticmethod
    def _parse_body(method: str, content_type: str, raw: bytes) -> Any:
        if method == "PATCH":
            if content_type not in PATCH_TYPES:
                raise errors.unsupported_media_type(content_type)
        elif method in ("POST", "PUT") and content_type not in (*JSON_TYPES, "application/yaml"):
            raise errors.unsupported_media_type(content_type)
        if not raw.strip():
            return None
        try:
            if content_type in (APPLY_PATCH, "application/yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise errors.bad_request(f"the request body could not be decoded: {e}") from e

    # ---- responses -------------------------------------------------------------------------

    def _send(self, response: Response) -> None:
        if isinstance(response.body, bytes):
            payload = response.body
        elif response.content_type == "application/json":
            payload = dumps(response.body)
        else:
            payload = str(response.body).encode()
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_safely(self, response: Response) -> None:
        if self._streaming:  # a chunked body is under way: no second response, just hang up
            self.close_connection = True
            return
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _start_chunked(self, content_type: str) -> None:
        self._streaming = True
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def _stream_log(self, chunks: Iterator[bytes]) -> None:
        self._start_chunked("text/plain")
        try:
            for data in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def _watch(self, request: watch.WatchRequest) -> None:
        store = self.server.endpoints.store
        events: Any
        try:
            events = watch.stream(store, request, self._client_alive)
        except errors.ApiError as e:
            if e.code != 410:
                raise
            events = [{"type": "ERROR", "object": e.to_status()}]
        self._start_chunked("application/json")
        try:
            for event in events:
                line = self._event_line(request.rtype.plural, event)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _event_line(self, resource: str, event: dict[str, Any]) -> bytes:
        obj = self.server.endpoints.store.encoded(resource, event["object"])
        return b'{"type":"%s","object":%s}\n' % (event["type"].encode(), obj)

    def _client_alive(self) -> bool:
        """False once the server stops or the client has closed its end of the connection."""
        if self.server.stopping:
            return False
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False
        return True
