"""Legacy JSON discovery (contract §2), computed from resources.py."""

from __future__ import annotations

from typing import Any

from localcluster.resources import BY_GROUP_VERSION, RESOURCES, ResourceType

VERSION = {
    "major": "1", "minor": "33", "gitVersion": "v1.33.0-localcluster", "gitCommit": "localcluster",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
    "compiler": "gc", "platform": "linux/amd64",
}


def version() -> dict[str, Any]:
    return dict(VERSION)


def api_versions(port: int) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}]}


def api_group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    items = []
    for group, versions in groups.items():
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": entries, "preferredVersion": dict(entries[0])})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def api_group(group: str) -> dict[str, Any] | None:
    for entry in api_group_list()["groups"]:
        if entry["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **entry}
    return None


def _entries(r: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    out = [main]
    for sub in r.subresources:
        verbs = {"status": ["get", "patch", "update"], "log": ["get"], "binding": ["create"]}[sub]
        kind = {"log": "Pod", "binding": "Binding"}.get(sub, r.kind)
        out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                    "kind": kind, "verbs": verbs})
    return out


def resource_list(group_version: str) -> dict[str, Any] | None:
    resources = BY_GROUP_VERSION.get(group_version)
    if resources is None:
        return None
    items = [entry for r in resources.values() for entry in _entries(r)]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": items}
