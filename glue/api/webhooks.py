"""`POST /webhooks/<name>`: an HMAC-SHA256 signed body runs an allow-listed playbook.

Each webhook (setting `WEBHOOKS`, or the YAML/JSON file `WEBHOOKS_FILE`) names a playbook from
ALLOWED_PLAYBOOKS, its shared secret (`secret`, or `secret_env`: the environment variable that
holds it) and the variables a caller may set with their types. The signature header
`X-Spectrojobs-Signature: sha256=<hex hmac of the raw body>` is checked in constant time before
the body is even parsed (bad or missing → 401). A variable that is not declared is refused
(422), not ignored; string values must match SAFE_TEXT, so no template or shell syntax reaches
the playbook. The run is queued and answered with 202 and its run id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, jsonify, request

from glue.api.errors import ApiError
from glue.errors import ConfigurationError, InvalidJobId, InvalidRequest
from glue.ids import parse_job_id
from streamer.dsp.coerce import error

bp = Blueprint("webhooks", __name__)

SIGNATURE_HEADER = "X-Spectrojobs-Signature"
ALLOWED_PLAYBOOKS = frozenset({"verify.yml", "query.yml", "reap.yml", "cleanup.yml"})
SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:,/ -]{0,200}$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VAR_TYPES = ("bool", "int", "text", "job_id", "job_ids")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def load_webhooks(config: dict) -> dict[str, dict[str, Any]]:
    """Validated webhook table {name: {playbook, secret, variables}}; ConfigurationError if wrong."""
    table = dict(config.get("WEBHOOKS") or {})
    if config.get("WEBHOOKS_FILE"):
        try:
            table.update(yaml.safe_load(Path(config["WEBHOOKS_FILE"]).read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"webhooks file {config['WEBHOOKS_FILE']!r}: {exc}") from exc
    hooks = {}
    for name, spec in table.items():
        where = f"webhook {name!r}"
        if not NAME_RE.match(str(name)) or not isinstance(spec, dict):
            raise ConfigurationError(f"{where}: name must match {NAME_RE.pattern} and map to a table")
        if spec.get("playbook") not in ALLOWED_PLAYBOOKS:
            raise ConfigurationError(f"{where}: playbook {spec.get('playbook')!r} is not one of "
                                     f"{sorted(ALLOWED_PLAYBOOKS)}")
        secret = spec.get("secret") or os.environ.get(str(spec.get("secret_env") or ""), "")
        if len(secret) < 16:
            raise ConfigurationError(f"{where}: secret (or secret_env) must hold >= 16 characters")
        variables = spec.get("variables") or {}
        bad = {k: t for k, t in variables.items() if t not in VAR_TYPES or not NAME_RE.match(k)}
        if bad:
            raise ConfigurationError(f"{where}: variables {bad} must map names to one of {VAR_TYPES}")
        hooks[name] = {"playbook": spec["playbook"], "secret": secret, "variables": dict(variables)}
    return hooks


def _check_value(name: str, kind: str, value: Any, max_windows: int) -> list[dict]:
    if kind == "bool":
        return [] if isinstance(value, bool) else [error(name, value, "must be true or false")]
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [error(name, value, "must be an integer")]
    if kind == "text":
        ok = isinstance(value, str) and SAFE_TEXT.match(value)
        return [] if ok else [error(name, value, f"must be text matching {SAFE_TEXT.pattern}")]
    ids = value if kind == "job_ids" else [value]
    if kind == "job_ids" and (not isinstance(value, list) or not value):
        return [error(name, value, "must be a non-empty list of job ids")]
    for job_id in ids:
        try:
            parse_job_id(job_id, max_windows)
        except InvalidJobId as exc:
            return [error(name, value, str(exc))]
    return []


def check_variables(declared: dict[str, str], body: Any, max_windows: int) -> dict[str, Any]:
    """The body's variables if all are declared and well-typed; InvalidRequest listing each fault."""
    if not isinstance(body, dict):
        raise InvalidRequest([error("body", body, "must be a JSON object of variables")])
    errors = [error(k, v, f"unknown variable (allowed: {sorted(declared)})")
              for k, v in body.items() if k not in declared]
    for name, value in body.items():
        if name in declared:
            errors += _check_value(name, declared[name], value, max_windows)
    if errors:
        raise InvalidRequest(errors)
    return dict(body)


@bp.post("/webhooks/<name>")
def webhook(name: str):
    hook = current_app.extensions["spectrojobs.webhooks"].get(name)
    if hook is None:
        raise ApiError(404, "NotFound", f"webhook {name!r} not found")
    raw = request.get_data(cache=True)
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), signature(hook["secret"], raw).encode()):
        raise ApiError(401, "BadSignature", f"missing or wrong {SIGNATURE_HEADER} (sha256=<hmac of the body>)")
    try:
        body = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest([error("body", raw[:100].decode("utf-8", "replace"), f"not JSON: {exc}")]) from exc
    variables = check_variables(hook["variables"], body, current_app.config["MAX_WINDOWS"])
    runner = current_app.extensions.get("spectrojobs.runner")
    if runner is None:
        raise ApiError(503, "NotReady", "the playbook runner is not running")
    handle = runner.submit(hook["playbook"], variables)
    return jsonify({"webhook": name, "playbook": hook["playbook"], "run_id": handle.ident,
                    "status": "Queued"}), 202
