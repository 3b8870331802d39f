"""Typed errors of the glue package; converted to HTTP/CLI/Ansible results at the boundary."""


class SpectrojobsError(Exception):
    """Base class of every error raised on purpose by spectrojobs."""


class ConfigurationError(SpectrojobsError):
    """A setting is missing or invalid; raised at start-up."""


class InvalidJobId(SpectrojobsError, ValueError):
    """A job id does not follow the `<window>-<unique>` format."""


class RunnerBusy(SpectrojobsError):
    """The playbook runner's queue is full or it is shutting down."""


class InvalidRequest(SpectrojobsError, ValueError):
    """A request breaks one or more field rules; `errors` lists `{field, value, rule}` per field."""

    def __init__(self, errors: list[dict]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e['field']}={e['value']!r}: {e['rule']}" for e in self.errors))
