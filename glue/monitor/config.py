"""The monitor's settings: one frozen dataclass, validated up front (ConfigurationError)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from glue.errors import ConfigurationError

IDLE_RULES = ("stream", "cpu")


@dataclass(frozen=True)
class MonitorConfig:
    namespace: str = "spectrojobs"
    interval: float = 10.0  # seconds between two list-based reconciles
    watch: bool = True  # a watch only shortens reaction time
    reaper: bool = True  # False: decide and report, never clean (metrics only)
    dry_run: bool = False
    idle_window: float = 120.0  # no gRPC client for this long → Idle / ClientGone
    pending_timeout: float = 300.0  # pending longer than this → PendingTimeout:<cause>
    max_age: float = 86400.0  # running longer than this → DeadlineExceeded (0 = off)
    orphan_grace: float = 60.0  # a Service/PVC/lease/queue without its Job for this long → Orphan
    warn_before: float = 30.0  # Kubernetes Event this long before an Idle or max-age cleanup
    export_retention: float = 3600.0  # a finished export job's output is kept this long
    idle_rule: str = "stream"  # "stream" (GetStatus RPC) or "cpu" (legacy PodMetrics rule)
    cpu_idle_checks: int = 5  # legacy rule: this many checks ...
    cpu_idle_spacing: float = 10.0  # ... this far apart ...
    cpu_idle_millicores: float = 4.0  # ... at or below this CPU use
    gpu_resource: str = "nvidia.com/gpu.shared"
    stream_host: str = ""  # host of the node ports; "" = the pod's hostIP
    history_url: str = ""  # "" = sqlite in $SPECTROJOBS_HOME; sqlite:///path; postgresql://...
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    rabbitmq_api: str = "http://127.0.0.1:15672"  # management API (optional, for queue listing)
    metrics_port: int = 9109  # 0 = no metrics endpoint
    metrics_addr: str = "127.0.0.1"
    playbook_dir: str = ""  # "" = the repository's playbooks/
    inventory: str = ""  # "" = the runner's default (inventories/local)
    cleanup_timeout: float = 600.0

    def __post_init__(self) -> None:
        positive = ("interval", "idle_window", "pending_timeout", "cleanup_timeout", "cpu_idle_spacing")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name}={getattr(self, name)!r}: must be > 0")
        for name in ("max_age", "orphan_grace", "warn_before", "export_retention", "cpu_idle_millicores"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name}={getattr(self, name)!r}: must be >= 0")
        if self.idle_rule not in IDLE_RULES:
            raise ConfigurationError(f"idle_rule={self.idle_rule!r}: must be one of {IDLE_RULES}")
        if self.cpu_idle_checks < 1:
            raise ConfigurationError(f"cpu_idle_checks={self.cpu_idle_checks!r}: must be >= 1")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigurationError(f"metrics_port={self.metrics_port!r}: must be in 0..65535")
        if not self.namespace:
            raise ConfigurationError("namespace='': must not be empty")

    def loggable(self) -> dict:
        """The whole config for the start-up log, with credentials masked."""
        data = asdict(self)
        for key in ("amqp_url", "history_url"):
            data[key] = mask_url(data[key])
        return data


def mask_url(url: str) -> str:
    """`scheme://user:secret@host` → `scheme://user:***@host`."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
