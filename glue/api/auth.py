"""Identities from bearer tokens.

Tokens come from a JSON/YAML file (`TOKENS_FILE`) or the `TOKENS` setting (JSON, e.g. from
`GLUE_TOKENS`): a list of `{"identity": "alice", "token": "...", "admin": false}`. Only the
sha256 of each token is kept in memory and comparison is constant-time. Without any token the
API refuses to start unless `OPEN_MODE` is set (the local demo): then every caller is the
admin identity `local`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, g, request

from glue.api.errors import ApiError
from glue.errors import ConfigurationError

IDENTITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
OPEN_IDENTITY = "local"


@dataclass(frozen=True)
class Identity:
    name: str
    admin: bool


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def parse_tokens(entries: Any, source: str) -> dict[bytes, Identity]:
    """Validate token entries; returns {sha256(token): Identity}. Pure."""
    if isinstance(entries, dict) and "tokens" in entries:
        entries = entries["tokens"]
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source}: tokens must be a list of {{identity, token, admin}}")
    table: dict[bytes, Identity] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{source}[{i}]: must be a mapping")
        name, token = entry.get("identity"), entry.get("token")
        if not isinstance(name, str) or not IDENTITY_RE.match(name):
            raise ConfigurationError(f"{source}[{i}].identity {name!r}: must match {IDENTITY_RE.pattern}")
        if not isinstance(token, str) or len(token) < 16:
            raise ConfigurationError(f"{source}[{i}].token (of {name}): must be a string of >= 16 characters")
        admin = entry.get("admin", False)
        if not isinstance(admin, bool):
            raise ConfigurationError(f"{source}[{i}].admin (of {name}): must be true or false")
        table[_digest(token)] = Identity(name, admin)
    return table


def load_tokens(config: dict) -> dict[bytes, Identity]:
    table: dict[bytes, Identity] = {}
    if config.get("TOKENS_FILE"):
        path = Path(config["TOKENS_FILE"])
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"tokens file {str(path)!r}: {exc}") from exc
        table.update(parse_tokens(data, str(path)))
    raw = config.get("TOKENS")
    if raw:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"TOKENS: not valid JSON: {exc}") from exc
        table.update(parse_tokens(raw, "TOKENS"))
    if not table and not config.get("OPEN_MODE"):
        raise ConfigurationError(
            "no API tokens configured (set GLUE_TOKENS_FILE or GLUE_TOKENS); "
            "refusing to start without authentication unless GLUE_OPEN_MODE=true"
        )
    return table


def identify(tokens: dict[bytes, Identity], open_mode: bool, header: str | None) -> Identity | None:
    """The caller's identity for an Authorization header value (None: not authenticated). Pure."""
    if header and header.startswith("Bearer "):
        digest = _digest(header[len("Bearer "):].strip())
        for known, identity in tokens.items():
            if hmac.compare_digest(known, digest):
                return identity
        return None
    if open_mode and not header:
        return Identity(OPEN_IDENTITY, admin=True)
    return None


def current_identity() -> Identity:
    """The authenticated caller of this request, or a 401."""
    if "identity" not in g:
        identity = identify(
            current_app.extensions["spectrojobs.tokens"],
            bool(current_app.config.get("OPEN_MODE")),
            request.headers.get("Authorization"),
        )
        if identity is None:
            raise ApiError(401, "Unauthorized", "a valid bearer token is required",
                           headers={"WWW-Authenticate": 'Bearer realm="spectrojobs"'})
        g.identity = identity
    return g.identity
