"""Job parameters of `streamer serve` / `streamer export`: flags, `STREAMER_*` environment, checks.

Every flag `--some-flag` can also come from `STREAMER_SOME_FLAG`; a flag on the command line
wins. Values are parsed here (not by argparse) so that every error names the flag, the
environment variable, the value and the rule, and all errors are reported at once.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streamer.dsp.params import FOCUS_FIELDS, ParamError, ViewParams, validate_view
from streamer.errors import UsageError

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SOURCES = ("live", "recording", "synthetic")
ENCODING_CHOICES = ("float32", "float16", "uint8")
XP_CHOICES = ("auto", "numpy", "cupy")
LIVE_RATE_PLACEHOLDER = 2000.0  # checks a live view before its first chunk tells the real rate

# flag -> (kind, default); kind: str | int | float | path
VIEW_FLAGS = {
    "view-type": ("str", "0"), "nfft": ("int", None), "channel-min": ("int", None), "channel-max": ("int", None),
    "freq-min": ("float", None), "freq-max": ("float", None), "display-duration": ("float", None),
    "display-height": ("int", None), "display-bins": ("int", None), "start-time": ("float", None),
    "end-time": ("float", None), "sample-rate": ("float", None), "encoding": ("str", "float32"),
}
SOURCE_FLAGS = {
    "source": ("str", "synthetic"), "recordings-dir": ("path", None), "amqp-url": ("str", None),
    "queue": ("str", None), "channels": ("int", "512"), "seed": ("int", "0"), "xp": ("str", "auto"),
    "job-id": ("str", ""),
}
SERVE_FLAGS = {
    "bind": ("str", None), "port": ("int", "5000"), "idle-timeout": ("float", "180"),
    "client-queue": ("int", "256"), "replay-speed": ("float", "1"),
}
VIEW_FLAG_OF = {  # validate_view's Python names -> our flags
    "view_type": "view-type", "nfft": "nfft", "channel_min": "channel-min", "channel_max": "channel-max",
    "freq_min": "freq-min", "freq_max": "freq-max", "display_duration_s": "display-duration",
    "display_height": "display-height", "display_bins": "display-bins", "start_time": "start-time",
    "end_time": "end-time", "sample_rate_hz": "sample-rate",
}
_FLAG_OF_FOCUS = {FOCUS_FIELDS[k]: v for k, v in VIEW_FLAG_OF.items()}


def env_name(flag: str) -> str:
    return "STREAMER_" + flag.upper().replace("-", "_")


def add_flags(parser: argparse.ArgumentParser, flags: Mapping[str, tuple[str, str | None]]) -> None:
    for flag, (kind, default) in flags.items():
        shown = f" (default {default})" if default not in (None, "") else ""
        parser.add_argument(f"--{flag}", dest=flag.replace("-", "_"), default=None, metavar=kind.upper(),
                            help=f"env {env_name(flag)}{shown}")


def raw_values(args: argparse.Namespace, flags: Mapping[str, tuple[str, str | None]],
               environ: Mapping[str, str]) -> dict[str, str | None]:
    """flag -> string value: command line, else environment, else default (pure)."""
    out = {}
    for flag, (_kind, default) in flags.items():
        given = getattr(args, flag.replace("-", "_"), None)
        if given is None:
            given = environ.get(env_name(flag))
        out[flag] = default if given in (None, "") else given
    return out


def _convert(flag: str, kind: str, text: str | None, errors: list[str]) -> object:
    if text is None:
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        errors.append(f"--{flag} ({env_name(flag)})={text!r}: must be {'an integer' if kind == 'int' else 'a number'}")
        return None
    return Path(text) if kind == "path" else text


def convert_all(raw: Mapping[str, str | None], flags: Mapping[str, tuple[str, str | None]],
                errors: list[str]) -> dict[str, object]:
    return {flag.replace("-", "_"): _convert(flag, kind, raw.get(flag), errors) for flag, (kind, _d) in flags.items()}


def _choice(values: dict, flag: str, choices: tuple[str, ...], errors: list[str]) -> None:
    key = flag.replace("-", "_")
    if values.get(key) is not None and values[key] not in choices:
        errors.append(f"--{flag} ({env_name(flag)})={values[key]!r}: must be one of {', '.join(choices)}")


@dataclass(frozen=True)
class JobConfig:
    source: str
    params: ViewParams
    encoding: str
    values: dict  # every converted flag value, by Python name

    @property
    def historic(self) -> bool:
        return self.values.get("start_time") is not None

    def get(self, name: str) -> object:
        return self.values.get(name)


def check_view(values: dict, sample_rate: float | None) -> ViewParams:
    """validate_view on the flag values; raises UsageError listing every rule broken, by flag."""
    kwargs = {name: values.get(flag.replace("-", "_")) for name, flag in VIEW_FLAG_OF.items()}
    kwargs["sample_rate_hz"] = sample_rate
    kwargs["source_channels"] = values.get("channels") if values.get("source") == "synthetic" else None
    try:
        return validate_view(**kwargs)
    except ParamError as e:
        lines = []
        for err in e.errors:
            flag = _FLAG_OF_FOCUS.get(err["field"], err["field"])
            lines.append(f"--{flag} ({env_name(flag)})={err['value']!r}: {err['rule']}")
        raise UsageError(lines) from e


def source_errors(values: dict) -> list[str]:
    """Cross-field rules between the source and its flags (pure)."""
    errors = []
    source = values.get("source")
    has_range = values.get("start_time") is not None or values.get("end_time") is not None
    if source == "recording":
        if values.get("start_time") is None or values.get("end_time") is None:
            errors.append("--start-time/--end-time: both required with --source recording (a historic range)")
        if values.get("recordings_dir") is None:
            errors.append("--recordings-dir (STREAMER_RECORDINGS_DIR): required with --source recording")
    elif has_range:
        errors.append(f"--start-time/--end-time: only valid with --source recording, not {source!r}")
    if source == "live" and not values.get("queue"):
        errors.append("--queue (STREAMER_QUEUE): required with --source live (the job's queue, declared by the playbook)")
    if source == "synthetic" and values.get("channels") is not None and values["channels"] < 1:
        errors.append(f"--channels (STREAMER_CHANNELS)={values['channels']!r}: must be >= 1")
    for flag in ("idle-timeout", "replay-speed"):
        v = values.get(flag.replace("-", "_"))
        if v is not None and v < 0:
            errors.append(f"--{flag} ({env_name(flag)})={v!r}: must be >= 0")
    q = values.get("client_queue")
    if q is not None and q < 1:
        errors.append(f"--client-queue (STREAMER_CLIENT_QUEUE)={q!r}: must be >= 1")
    port = values.get("port")
    if port is not None and not 0 <= port <= 65535:
        errors.append(f"--port (STREAMER_PORT)={port!r}: must be within 0..65535")
    return errors


def parse_job(args: argparse.Namespace, flags: Mapping[str, tuple[str, str | None]],
              environ: Mapping[str, str] | None = None) -> dict:
    """Converted values and checked source rules; raises UsageError with every problem."""
    environ = os.environ if environ is None else environ
    errors: list[str] = []
    values = convert_all(raw_values(args, flags, environ), flags, errors)
    _choice(values, "source", SOURCES, errors)
    _choice(values, "encoding", ENCODING_CHOICES, errors)
    _choice(values, "xp", XP_CHOICES, errors)
    if not errors:
        errors += source_errors(values)
    if errors:
        raise UsageError(errors)
    return values


def initial_sample_rate(values: dict) -> float | None:
    """The rate to validate with before the source is open: given, synthetic default, or placeholder."""
    if values.get("sample_rate") is not None:
        return values["sample_rate"]
    return 2000.0 if values.get("source") == "synthetic" else LIVE_RATE_PLACEHOLDER
