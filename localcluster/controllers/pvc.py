"""PVC binder: binds claims to a host directory `<state_dir>/volumes/<ns>/<claim>` and releases
`kubernetes.io/pvc-protection` once no non-terminal pod uses a deleted claim (contract §13).

A claim whose storageClassName is `unbindable` stays Pending (so that tests and playbooks can
exercise the "unbound PVC" path). A released claim's directory is removed (reclaim policy Delete).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from localcluster.controllers.base import ClusterAPI, Controller, Obj
from localcluster.controllers.scheduling import is_terminal
from localcluster.errors import ApiError

log = logging.getLogger(__name__)
PROTECTION = "kubernetes.io/pvc-protection"
UNBINDABLE_CLASS = "unbindable"
BIND_ANNOTATIONS = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}


def claim_dir(state_dir: Path, claim: Obj) -> Path:
    return Path(state_dir) / "volumes" / claim["metadata"]["namespace"] / claim["metadata"]["name"]


def needs_binding(claim: Obj) -> bool:
    return (claim.get("status", {}).get("phase") != "Bound" and not claim["metadata"].get("deletionTimestamp")
            and claim.get("spec", {}).get("storageClassName") != UNBINDABLE_CLASS)


def bound_spec(claim: Obj) -> Obj:
    """The claim with volumeName and the bind annotations set (a new dict)."""
    meta = claim["metadata"]
    spec = {**claim.get("spec", {}), "volumeName": claim.get("spec", {}).get("volumeName") or f"pvc-{meta['uid']}"}
    annotations = {**(meta.get("annotations") or {}), **BIND_ANNOTATIONS}
    return {**claim, "metadata": {**meta, "annotations": annotations}, "spec": spec}


def bound_status(claim: Obj) -> Obj:
    spec = claim.get("spec", {})
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    return {**claim.get("status", {}), "phase": "Bound", "accessModes": list(spec.get("accessModes") or []),
            "capacity": {"storage": storage}}


def claim_in_use(claim: Obj, pods: list[Obj]) -> bool:
    name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
    return any(
        p["metadata"].get("namespace") == namespace and not is_terminal(p)
        and any((v.get("persistentVolumeClaim") or {}).get("claimName") == name for v in p["spec"].get("volumes") or [])
        for p in pods
    )


class PVCBinder(Controller):
    name = "pvc-binder"
    interested_in = frozenset({"persistentvolumeclaims", "pods"})
    resync_seconds = 1.0

    def __init__(self, api: ClusterAPI, state_dir: Path) -> None:
        super().__init__(api)
        self.state_dir = Path(state_dir)

    def sync(self) -> None:
        claims = self.api.list("persistentvolumeclaims")
        pods: list[Obj] | None = None
        for claim in claims:
            try:
                if needs_binding(claim):
                    self._bind(claim)
                elif claim["metadata"].get("deletionTimestamp") and PROTECTION in (
                        claim["metadata"].get("finalizers") or []):
                    pods = self.api.list("pods") if pods is None else pods
                    if not claim_in_use(claim, pods):
                        shutil.rmtree(claim_dir(self.state_dir, claim), ignore_errors=True)
                        self.api.remove_finalizer("persistentvolumeclaims", claim["metadata"]["namespace"],
                                                  claim["metadata"]["name"], PROTECTION)
            except ApiError as e:
                if e.code != 404:
                    log.info("claim %s: %s (retrying)", claim["metadata"]["name"], e.message)
                    self._wake.set()

    def _bind(self, claim: Obj) -> None:
        claim_dir(self.state_dir, claim).mkdir(parents=True, exist_ok=True)
        updated = self.api.update("persistentvolumeclaims", bound_spec(claim))
        self.api.update_status("persistentvolumeclaims", {**updated, "status": bound_status(updated)})
