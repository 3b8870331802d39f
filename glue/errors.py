"""Typed errors of the glue package; converted to HTTP/CLI/Ansible results at the boundary."""


class SpectrojobsError(Exception):
    """Base class of every error raised on purpose by spectrojobs."""


class ConfigurationError(SpectrojobsError):
    """A setting is missing or invalid; raised at start-up."""


class InvalidJobId(SpectrojobsError, ValueError):
    """A job id does not follow the `<window>-<unique>` format."""
