"""Label and field selectors (contract §4), parsed once and matched as pure predicates.

Label grammar (k8s.io/apimachinery/pkg/labels): requirements joined by commas, each one of
`k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`. `!=` and `notin`
also match objects without the key. Field grammar: `f=v`, `f==v`, `f!=v` joined by commas, with
`\\`, `\\,` and `\\=` escapes, over the fields each kind supports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localcluster.errors import ApiError, bad_request

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|>|<|[^\s!=(),<>]+)")
_OPS = {"=": "=", "==": "=", "!=": "!=", "in": "in", "notin": "notin", ">": "gt", "<": "lt"}


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(value or "")
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        symbol = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value; an empty one matches everything. Errors are 400."""
    if not text or not text.strip():
        return LabelSelector()
    tokens = _tokenize(text)
    requirements: list[Requirement] = []
    pos = 0
    while True:
        requirement, pos = _parse_requirement(text, tokens, pos)
        requirements.append(requirement)
        if pos == len(tokens):
            break
        if tokens[pos] != ",":
            raise _label_error(text, f"found '{tokens[pos]}', expected: ','")
        pos += 1
    return LabelSelector(tuple(requirements))


def label_selector_from_match_labels(match_labels: Mapping[str, str] | None) -> str:
    """`{"a": "1", "b": "2"}` → `a=1,b=2` (sorted, as the real server renders it)."""
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))


def label_selector_from_spec(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) as a LabelSelector."""
    selector = selector or {}
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise bad_request(f"matchExpressions[{i}].operator: Invalid value: "
                              f"{expr.get('operator')!r}: not a valid selector operator")
        reqs.append(Requirement(expr.get("key", ""), op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(reqs))


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:  # pragma: no cover - the token regex accepts any non-space run
            raise _label_error(text, f"unexpected character at {pos}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _parse_requirement(text: str, tokens: list[str], pos: int) -> tuple[Requirement, int]:
    def at(i: int) -> str | None:
        return tokens[i] if i < len(tokens) else None

    if at(pos) == "!":
        key = at(pos + 1)
        _check_key(text, key)
        return Requirement(key, "!"), pos + 2  # type: ignore[arg-type]
    key = at(pos)
    _check_key(text, key)
    assert key is not None
    op_token = at(pos + 1)
    if op_token in (None, ","):
        return Requirement(key, "exists"), pos + 1
    op = _OPS.get(op_token)  # type: ignore[arg-type]
    if op is None:
        raise _label_error(text, f"found '{op_token}', expected: in, notin, =, ==, !=, gt, lt")
    pos += 2
    if op in ("in", "notin"):
        return _parse_set(text, tokens, pos, key, op)
    value = at(pos)
    if value in (None, ",", ")", "(", "!", "=", "==", "!=", ">", "<"):
        value, consumed = "", 0
    else:
        consumed = 1
    if op in ("gt", "lt"):
        if not re.fullmatch(r"-?\d+", value or ""):
            raise _label_error(text, f"for 'gt', 'lt' operators, the value must be an integer: {value!r}")
    else:
        _check_value(text, value)
    return Requirement(key, op, (value,)), pos + consumed  # type: ignore[arg-type]


def _parse_set(text: str, tokens: list[str], pos: int, key: str, op: str) -> tuple[Requirement, int]:
    if pos >= len(tokens) or tokens[pos] != "(":
        raise _label_error(text, f"found '{tokens[pos] if pos < len(tokens) else ''}', expected: '('")
    pos += 1
    values: list[str] = []
    expect_value = True
    while True:
        if pos >= len(tokens):
            raise _label_error(text, "found '', expected: ')'")
        token = tokens[pos]
        if token == ")":
            if expect_value and values:
                values.append("")
            pos += 1
            break
        if token == ",":
            if expect_value:
                values.append("")
            expect_value = True
        elif expect_value:
            _check_value(text, token)
            values.append(token)
            expect_value = False
        else:
            raise _label_error(text, f"found '{token}', expected: ',' or ')'")
        pos += 1
    if not values:
        raise _label_error(text, f"for 'in', 'notin' operators, values set can't be empty ({key})")
    return Requirement(key, op, tuple(dict.fromkeys(values))), pos


def _check_key(text: str, key: str | None) -> None:
    if key is None or key in _OPS or key in ("(", ")", ",", "!"):
        raise _label_error(text, f"found '{key or ''}', expected: identifier")
    prefix, slash, name = key.rpartition("/")
    ok = bool(_NAME.match(name)) and len(name) <= 63
    if slash:
        ok = ok and bool(_PREFIX.match(prefix)) and len(prefix) <= 253
    if not ok:
        raise _label_error(text, f'key: Invalid value: "{key}": name part must consist of alphanumeric '
                           "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                           "character, with an optional DNS subdomain prefix and '/'")


def _check_value(text: str, value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise _label_error(text, f'values[0]: Invalid value: "{value}": a valid label must be an empty '
                           "string or consist of alphanumeric characters, '-', '_' or '.', and must "
                           "start and end with an alphanumeric character (max 63 characters)")


def _label_error(text: str, why: str) -> ApiError:
    return bad_request(f"unable to parse requirement: labelSelector {text!r}: {why}")


# ---- field selectors ----------------------------------------------------------------------

def _get(path: str) -> Callable[[Mapping[str, Any]], str]:
    keys = path.split(".")

    def read(obj: Mapping[str, Any]) -> str:
        node: Any = obj
        for key in keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        return _field_text(node)

    return read


def _bool_field(path: str) -> Callable[[Mapping[str, Any]], str]:
    read = _get(path)
    return lambda obj: read(obj) or "false"


def _int_field(path: str) -> Callable[[Mapping[str, Any]], str]:
    read = _get(path)
    return lambda obj: read(obj) or "0"


def _field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_COMMON = {"metadata.name": _get("metadata.name"), "metadata.namespace": _get("metadata.namespace")}

FIELDS: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "pods": {
        "spec.nodeName": _get("spec.nodeName"),
        "spec.restartPolicy": _get("spec.restartPolicy"),
        "spec.schedulerName": _get("spec.schedulerName"),
        "spec.serviceAccountName": _get("spec.serviceAccountName"),
        "spec.hostNetwork": _bool_field("spec.hostNetwork"),
        "status.phase": _get("status.phase"),
        "status.podIP": _get("status.podIP"),
        "status.nominatedNodeName": _get("status.nominatedNodeName"),
    },
    "jobs": {"status.successful": _int_field("status.succeeded")},
    "nodes": {"spec.unschedulable": _bool_field("spec.unschedulable")},
    "namespaces": {"status.phase": _get("status.phase")},
    "events": {
        **{f"involvedObject.{f}": _get(f"involvedObject.{f}")
           for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _get("reason"),
        "type": _get("type"),
        "source": _get("source.component"),
        "reportingComponent": _get("reportingComponent"),
    },
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


@dataclass(frozen=True)
class FieldSelector:
    resource_plural: str
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        readers = {**_COMMON, **FIELDS.get(self.resource_plural, {})}
        for req in self.requirements:
            actual = readers[req.field](obj)
            if (actual == req.value) != (req.op == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements


def supported_fields(resource_plural: str) -> list[str]:
    return sorted({**_COMMON, **FIELDS.get(resource_plural, {})})


def parse_field_selector(text: str | None, resource_plural: str) -> FieldSelector:
    """Parse a `fieldSelector` for `resource_plural`; bad syntax or unknown fields give a 400."""
    if not text or not text.strip():
        return FieldSelector(resource_plural)
    readers = {**_COMMON, **FIELDS.get(resource_plural, {})}
    requirements = []
    for term in _split_unescaped(text, ","):
        requirement = _parse_field_term(text, term)
        if requirement.field not in readers:
            raise bad_request(f"field label not supported: {requirement.field}")
        requirements.append(requirement)
    return FieldSelector(resource_plural, tuple(requirements))


def _parse_field_term(text: str, term: str) -> FieldRequirement:
    pos = 0
    while pos < len(term):
        if term[pos] == "\\":
            pos += 2
            continue
        for symbol, op in (("!=", "!="), ("==", "="), ("=", "=")):
            if term.startswith(symbol, pos) and term[:pos].strip():
                return FieldRequirement(term[:pos].strip(), op, _unescape(term[pos + len(symbol):]))
        pos += 1
    raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)
