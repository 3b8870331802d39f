"""Verb handlers: a parsed request in, a Response out (contract §3–§5, §8, §9 lists).

No sockets here: http_handler.py parses the request and writes what these return; watches are
streamed by the handler from `watch_request()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localcluster import errors
from localcluster.deletion import DeleteOptions, delete_status, parse_delete_options
from localcluster.managed import manager_from_user_agent
from localcluster.objects import RETURNS_DELETED_OBJECT, Obj, dumps, meta
from localcluster.registry import APPLY_PATCH, JSON_PATCH, Registry
from localcluster.routing import ResourceRoute
from localcluster.selectors import parse_field_selector, parse_label_selector
from localcluster.watch import DEFAULT_TIMEOUT_SECONDS, WatchRequest, object_matcher, parse_since


@dataclass
class Request:
    method: str
    route: ResourceRoute
    query: Mapping[str, str]
    body: Any  # parsed JSON/YAML, or None
    content_type: str
    user_agent: str


@dataclass
class Response:
    code: int
    body: Any  # JSON-serialisable, bytes already encoded, or str for text/plain
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


def flag(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0", ""):
        return False
    raise errors.bad_request(f"{name}: invalid value {value!r}: must be true or false")


def dry_run(query: Mapping[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None:
        return False
    if value != "All":
        raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return True


def matcher(route: ResourceRoute, query: Mapping[str, str]) -> Callable[[Obj], bool]:
    label = parse_label_selector(query["labelSelector"]) if query.get("labelSelector") else None
    fields = (parse_field_selector(query["fieldSelector"], route.rtype.plural)
              if query.get("fieldSelector") else None)
    return object_matcher(label, fields)


def list_body(route: ResourceRoute, items: list[Obj], rv: int) -> dict[str, Any]:
    return {"kind": f"{route.rtype.kind}List", "apiVersion": route.rtype.group_version,
            "metadata": {"resourceVersion": str(rv)}, "items": items}


class Endpoints:
    def __init__(self, registry: Registry, bookmark_interval: float = 60.0) -> None:
        self.registry = registry.attached()
        self.store = registry.store
        self.bookmark_interval = bookmark_interval

    def manager(self, request: Request) -> str:
        return request.query.get("fieldManager") or manager_from_user_agent(request.user_agent)

    # ---- GET -----------------------------------------------------------------------------

    def get(self, request: Request) -> Response:
        route = request.route
        if route.subresource not in (None, "status"):
            raise errors.method_not_allowed()
        if route.name is None:
            match = matcher(route, request.query)
            items, rv = self.store.list_refs(route.rtype.plural, route.namespace, match)
            head = dumps(list_body(route, [], rv))[:-len(b"[]}")]
            encoded = [self.store.encoded(route.rtype.plural, obj) for obj in items]
            return Response(200, head + b"[" + b",".join(encoded) + b"]}")
        obj = self.store.get_ref(route.rtype.plural, route.namespace, route.name)
        if obj is None:
            raise errors.not_found(route.rtype.qualified, route.name)
        return Response(200, self.store.encoded(route.rtype.plural, obj))

    def watch_request(self, request: Request) -> WatchRequest:
        route = request.route
        if route.name is not None:
            raise errors.method_not_allowed()
        timeout = request.query.get("timeoutSeconds")
        send_initial = flag(request.query, "sendInitialEvents")
        try:
            since = parse_since(request.query.get("resourceVersion"), send_initial)
            seconds = float(timeout) if timeout else 0.0
            seconds = seconds if seconds > 0 else DEFAULT_TIMEOUT_SECONDS
        except ValueError as e:
            raise errors.bad_request(f"resourceVersion/timeoutSeconds: invalid value: {e}") from e
        if send_initial is False and since is None:
            since = self.store.resource_version
        return WatchRequest(
            rtype=route.rtype, namespace=route.namespace, match=matcher(route, request.query),
            since=since, timeout_seconds=seconds, bookmarks=bool(flag(request.query, "allowWatchBookmarks")),
            send_initial_events=bool(send_initial), bookmark_interval=self.bookmark_interval)

    # ---- writes --------------------------------------------------------------------------

    def post(self, request: Request) -> Response:
        route = request.route
        body = self._object_body(request)
        if route.name is not None:
            if route.subresource == "binding" and route.rtype.plural == "pods":
                target = (body.get("target") or {}).get("name")
                if not target:
                    raise errors.invalid("Binding", route.name, [("target.name", "FieldValueRequired",
                                                                   "Required value")])
                self.registry.bind(route.namespace or "", route.name, target, dry_run(request.query))
                return Response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                      "status": "Success", "code": 201})
            raise errors.method_not_allowed()
        if route.rtype.namespaced and route.namespace is None:
            raise errors.method_not_allowed()
        self._check_namespace(route, body)
        created = self.registry.create(route.rtype.plural, body, namespace=route.namespace,
                                       dry_run=dry_run(request.query), manager=self.manager(request))
        return Response(201, created)

    def put(self, request: Request) -> Response:
        route = request.route
        if route.name is None:
            raise errors.method_not_allowed()
        body = self._object_body(request)
        self._check_namespace(route, body)
        body_name = meta(body).get("name")
        if body_name and body_name != route.name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({route.name})")
        updated = self.registry.update(route.rtype.plural, body, namespace=route.namespace, name=route.name,
                                       subresource=route.subresource, dry_run=dry_run(request.query),
                                       manager=self.manager(request))
        return Response(200, updated)

    def patch(self, request: Request) -> Response:
        route = request.route
        if route.name is None:
            raise errors.method_not_allowed()
        if request.content_type == APPLY_PATCH and not request.query.get("fieldManager"):
            raise errors.bad_request("PATCH requests with apply patch type require a fieldManager parameter")
        if request.body is None:
            raise errors.bad_request("the patch body is empty")
        if request.content_type != JSON_PATCH and isinstance(request.body, dict):
            self._check_namespace(route, request.body)
        flag(request.query, "force")
        obj, created = self.registry.patch(
            route.rtype.plural, route.namespace, route.name, request.content_type, request.body,
            subresource=route.subresource, dry_run=dry_run(request.query), manager=self.manager(request),
            force=bool(flag(request.query, "force")))
        return Response(201 if created else 200, obj)

    def delete(self, request: Request) -> Response:
        route = request.route
        if route.subresource is not None:
            raise errors.method_not_allowed()
        body = request.body if isinstance(request.body, dict) else None
        options = parse_delete_options(body, request.query)
        is_dry_run = dry_run(request.query) or (body is not None and body.get("dryRun") == ["All"])
        if route.name is None:
            return self._delete_collection(request, options, is_dry_run)
        obj, removed, warnings = self.registry.delete_object(
            route.rtype.plural, route.namespace, route.name, options, is_dry_run)
        headers = [("Warning", w) for w in warnings]
        if not removed:
            code = 202 if options.orphan_dependents is False else 200
            return Response(code, obj, headers)
        if route.rtype.plural in RETURNS_DELETED_OBJECT:
            return Response(200, obj, headers)
        return Response(200, delete_status(route.rtype.group, route.rtype.plural, obj), headers)

    def _delete_collection(self, request: Request, options: DeleteOptions, is_dry_run: bool) -> Response:
        route = request.route
        items, _ = self.store.list_refs(route.rtype.plural, route.namespace, matcher(route, request.query))
        deleted = []
        warnings: set[str] = set()
        for obj in items:
            try:
                last, _, more = self.registry.delete_object(
                    route.rtype.plural, meta(obj).get("namespace"), meta(obj)["name"], options, is_dry_run)
            except errors.ApiError as e:
                if e.code == 404:
                    continue
                raise
            deleted.append(last)
            warnings.update(more)
        return Response(200, list_body(route, deleted, self.store.resource_version),
                        [("Warning", w) for w in sorted(warnings)])

    # ---- helpers -------------------------------------------------------------------------

    @staticmethod
    def _object_body(request: Request) -> dict[str, Any]:
        if not isinstance(request.body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        return request.body

    @staticmethod
    def _check_namespace(route: ResourceRoute, body: Mapping[str, Any]) -> None:
        body_ns = (body.get("metadata") or {}).get("namespace")
        if route.rtype.namespaced and body_ns and route.namespace and body_ns != route.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
