"""Shared pieces of the per-kind strategies: field errors, name rules, metadata validation.

Field errors follow the API server's `field.Error` rendering (`Invalid value: "x": why`,
`Required value`, `Unsupported value`, `Forbidden`, `Duplicate value`) and become the `causes`
of one 422 `Invalid` Status (contract §6, §11).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from localcluster.errors import ApiError, invalid_object

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                 "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                 f"regex used for validation is '{DNS1123_SUBDOMAIN}')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
             "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
             f"regex used for validation is '{DNS1123_LABEL}')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
               "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
               f"'abc-123', regex used for validation is '{DNS1035_LABEL}')")


def go_value(value: Any) -> str:
    """A value as the API server prints it in a field error: strings quoted, numbers bare."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class FieldErrors:
    """Collects field errors; `raise_if_any(kind, name)` turns them into one 422."""

    causes: list[tuple[str, str, str]] = field(default_factory=list)

    def invalid(self, path: str, value: Any, why: str) -> None:
        self.causes.append((path, "FieldValueInvalid", f"Invalid value: {go_value(value)}: {why}"))

    def required(self, path: str, why: str = "") -> None:
        self.causes.append((path, "FieldValueRequired", "Required value" + (f": {why}" if why else "")))

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        options = ", ".join(json.dumps(s) for s in supported)
        self.causes.append((path, "FieldValueNotSupported",
                            f"Unsupported value: {go_value(value)}: supported values: {options}"))

    def forbidden(self, path: str, why: str) -> None:
        self.causes.append((path, "FieldValueForbidden", f"Forbidden: {why}"))

    def duplicate(self, path: str, value: Any) -> None:
        self.causes.append((path, "FieldValueDuplicate", f"Duplicate value: {go_value(value)}"))

    def raise_if_any(self, kind: str, name: str, group: str = "") -> None:
        """One 422 for all causes, e.g. `Job.batch "j" is invalid: [a: ..., b: ...]`."""
        if self.causes:
            raise invalid_object(kind, group, name or "", self.causes)


def is_dns1123_subdomain(name: str) -> bool:
    return len(name) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, name) is not None


def is_dns1123_label(name: str) -> bool:
    return len(name) <= 63 and re.fullmatch(DNS1123_LABEL, name) is not None


def is_dns1035_label(name: str) -> bool:
    return len(name) <= 63 and re.fullmatch(DNS1035_LABEL, name) is not None


def check_name(errs: FieldErrors, name: Any, rule: str, path: str = "metadata.name") -> None:
    """`rule` is `subdomain`, `label` (DNS-1123) or `dns1035`."""
    if not name:
        errs.required(path, "name or generateName is required")
        return
    if not isinstance(name, str):
        errs.invalid(path, name, "must be a string")
        return
    if rule == "subdomain":
        if len(name) > 253:
            errs.invalid(path, name, "must be no more than 253 characters")
        elif not is_dns1123_subdomain(name):
            errs.invalid(path, name, SUBDOMAIN_MSG)
        return
    if len(name) > 63:
        errs.invalid(path, name, "must be no more than 63 characters")
    elif rule == "label" and not is_dns1123_label(name):
        errs.invalid(path, name, LABEL_MSG)
    elif rule == "dns1035" and not is_dns1035_label(name):
        errs.invalid(path, name, DNS1035_MSG)


def check_qualified_name(errs: FieldErrors, key: Any, path: str) -> None:
    """A label/annotation key: an optional DNS subdomain prefix and `/`, then a name ≤ 63."""
    if not isinstance(key, str) or not key:
        errs.invalid(path, key, "name part must be non-empty")
        return
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or not is_dns1123_subdomain(prefix)):
        errs.invalid(path, key, "prefix part " + SUBDOMAIN_MSG)
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        errs.invalid(path, key, "name part must consist of alphanumeric characters, '-', '_' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                     "'my.name',  or '123-abc', regex used for validation is "
                     "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with at most 63 characters")


def check_labels(errs: FieldErrors, labels: Any, path: str) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict):
        errs.invalid(path, labels, "must be a map of string keys to string values")
        return
    for key, value in labels.items():
        check_qualified_name(errs, key, path)
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errs.invalid(path, value, "a valid label must be an empty string or consist of alphanumeric "
                         "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                         "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                         "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') with at most 63 "
                         "characters")


def check_metadata(errs: FieldErrors, obj: dict[str, Any], name_rule: str) -> None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        errs.required("metadata")
        return
    check_name(errs, metadata.get("name"), name_rule)
    check_labels(errs, metadata.get("labels"), "metadata.labels")
    annotations = metadata.get("annotations")
    if annotations is not None:
        if not isinstance(annotations, dict):
            errs.invalid("metadata.annotations", annotations, "must be a map of string keys to string values")
        else:
            for key, value in annotations.items():
                check_qualified_name(errs, key, "metadata.annotations")
                if not isinstance(value, str):
                    errs.invalid(f"metadata.annotations[{key}]", value, "must be a string")
    for i, ref in enumerate(metadata.get("ownerReferences") or []):
        path = f"metadata.ownerReferences[{i}]"
        if not isinstance(ref, dict):
            errs.invalid(path, ref, "must be an object")
            continue
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                errs.invalid(f"{path}.{key}", ref.get(key, ""), f"{key} must not be empty")
    finalizers = metadata.get("finalizers") or []
    for i, finalizer in enumerate(finalizers):
        check_qualified_name(errs, finalizer, f"metadata.finalizers[{i}]")


def is_extended_resource(name: str) -> bool:
    """`nvidia.com/gpu`: a domain-prefixed name outside `kubernetes.io/` and not `requests.*`."""
    if "/" not in name or name.startswith("requests."):
        return False
    prefix = name.split("/", 1)[0]
    return not (prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io"))


def get_in(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def require_object(obj: Any, kind: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", f"the body of a {kind} must be a JSON object")
    return obj
