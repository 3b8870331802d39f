"""The kubelet: runs each bound pod's containers as local processes (contract §13).

Deviations (README.md): no images, no isolation; each pod gets its own loopback pod IP;
volumes map to host directories; `runAsNonRoot`/`runAsUser` are recorded, not enforced; after a
cluster restart, pods whose process is gone become Failed with reason `NodeRestart`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from localcluster.controllers import processes
from localcluster.controllers.base import ClusterAPI, Controller, Obj
from localcluster.controllers.config import ControllerConfig
from localcluster.controllers.logs import LogMarks, log_path
from localcluster.controllers.node import GPU, GPU_SHARED
from localcluster.controllers.podenv import (
    PodConfigError,
    PodContext,
    container_argv,
    container_env,
    container_mounts,
    image_pull_error,
    prepare_volumes,
    volume_dirs,
    working_dir,
)
from localcluster.controllers.podip import PodIPAllocator, PodIPExhausted
from localcluster.controllers.podrun import ContainerRun, PodRun
from localcluster.controllers.podstatus import pod_conditions, pod_phase
from localcluster.controllers.scheduling import is_terminal, pod_requests
from localcluster.errors import ApiError
from localcluster.timefmt import now_time

log = logging.getLogger(__name__)
COMPONENT = "kubelet"
ABANDON_GRACE_SECONDS = 2.0
HOST_IP = "127.0.0.1"
LOST = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                       "message": "The container could not be located when the pod was terminated"}}


class Kubelet(Controller):
    name = "kubelet"
    interested_in = frozenset({"pods"})
    resync_seconds = 0.5

    def __init__(self, api: ClusterAPI, config: ControllerConfig) -> None:
        super().__init__(api)
        self.config = config
        self.log_marks = LogMarks()
        self._runs: dict[str, PodRun] = {}
        self._lock = threading.Lock()  # guards _runs against readers in other threads (metrics)
        self._ips = PodIPAllocator(config.pod_ip_network)
        self._pids = processes.PidsFile(config.state_dir)
        self._final_deleted: set[str] = set()
        self._abandoned: dict[int, float] = {}  # pgid → monotonic SIGKILL time, for force-deleted pods
        self._known: dict[str, tuple[str, str, list[str]]] = {}  # uid → (ns, name, containers)
        self._python_dir = str(Path(sys.executable).parent)

    # ---- read side (metrics, logs) ----
    def running_pgids(self, namespace: str, name: str) -> dict[str, int]:
        with self._lock:
            for run in self._runs.values():
                if run.namespace == namespace and run.name == name:
                    return {c.name: c.proc.pid for c in run.every_container if c.proc is not None and c.running}
        return {}

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        return log_path(self.config.state_dir, namespace, pod, container)

    # ---- the loop ----
    def sync(self) -> None:
        pods = [p for p in self.api.list("pods") if p.get("spec", {}).get("nodeName") == self.config.node_name]
        present = {p["metadata"]["uid"] for p in pods}
        names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}
        for uid in [u for u in self._runs if u not in present]:
            self._abandon(uid)
        for uid in [u for u in self._known if u not in present]:
            self._forget(uid, names)
        for pod in pods:
            try:
                self._sync_pod(pod)
            except ApiError as e:
                if e.code != 404:
                    log.info("pod %s/%s: %s (retrying)", pod["metadata"]["namespace"], pod["metadata"]["name"],
                             e.message)
                    self._wake.set()
        with self._lock:
            self._reap_abandoned()
            self._pids.write([*(g for run in self._runs.values() for g in run.pgids), *self._abandoned])
            for run in self._runs.values():
                for c in run.every_container:
                    self.log_marks.sample(c.log_path)

    def stop(self) -> None:
        super().stop()
        with self._lock:
            groups = [*(g for run in self._runs.values() for g in run.pgids), *self._abandoned]
        processes.stop_groups(groups, self.config.shutdown_grace_seconds)
        self._pids.write([])

    def _sync_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid, deleting = meta["uid"], bool(meta.get("deletionTimestamp"))
        run = self._runs.get(uid)
        if run is None:
            status = pod.get("status", {})
            if not is_terminal(pod) and (status.get("startTime") or status.get("containerStatuses")):
                # started by an earlier run of the cluster: its processes are gone
                pod = self._write_lost(pod, "NodeRestart", "the node restarted and the pod's processes are gone")
            elif deleting and not is_terminal(pod):
                pod = self._write_lost(pod, "Killing", "the pod was deleted before it started")
            if is_terminal(pod):
                if deleting:
                    self._final_delete(pod)
                return
            self._start(pod)
            return
        for c in run.every_container:
            c.poll()
        deadline = pod.get("spec", {}).get("activeDeadlineSeconds")
        if (deadline is not None and not run.stopping and run.failure is None
                and time.monotonic() - run.started >= int(deadline)):
            run.failure = ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
            self._begin_stop(pod, run)
        if deleting and not run.stopping:
            self._begin_stop(pod, run)
        if run.stopping:
            if run.kill_at is not None and time.monotonic() >= run.kill_at:
                for pgid in run.pgids:
                    processes.signal_group(pgid, signal.SIGKILL)
                run.kill_at = None
            for c in run.every_container:
                if not c.running and "terminated" not in c.state:
                    c.state = dict(c.last_state) if "terminated" in c.last_state else dict(LOST)
        elif run.failure is None and not run.init_failed():
            self._advance(pod, run)
        pod = self._report(pod, run)
        phase = pod.get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed") and not run.pgids:
            self._release(uid)
            if deleting:
                self._final_delete(pod)

    def _advance(self, pod: Obj, run: PodRun) -> None:
        """Start what is due: the current init container, else every app container not yet
        started; restart exited ones as restartPolicy says (init containers: on failure)."""
        pending = run.pending_init
        current = pending[:1] if pending else run.containers
        for c in run.containers if pending else []:
            if c.proc is None and c.state.get("waiting", {}).get("reason") == "ContainerCreating":
                c.state = {"waiting": {"reason": "PodInitializing"}}
        label = f"{run.name}_{run.namespace}({run.uid})"
        for c in current:
            code = c.state.get("terminated", {}).get("exitCode")
            policy = "OnFailure" if c in run.init_containers and run.restart_policy == "Always" else run.restart_policy
            if code is not None and (policy == "Always" or (policy == "OnFailure" and code)):
                backoff = min(self.config.restart_backoff_base_seconds * 2 ** c.restart_count,
                              self.config.restart_backoff_max_seconds)
                c.schedule_restart(backoff, label)
                self.api.record_event(pod, "Warning", "BackOff",
                                      f"Back-off restarting failed container {c.name} in pod {label}", COMPONENT)
            waiting = c.state.get("waiting", {}).get("reason")
            if waiting == "ErrImagePull":
                c.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{c.image}"'}}
                self.api.record_event(pod, "Normal", "BackOff", f'Back-off pulling image "{c.image}"', COMPONENT)
            due = c.restart_at is not None and time.monotonic() >= c.restart_at
            if due or (c.proc is None and waiting in ("ContainerCreating", "PodInitializing")):
                self._start_container(pod, run, c)

    def _begin_stop(self, pod: Obj, run: PodRun) -> None:
        run.stopping = True
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        for c in run.every_container:
            if c.running:
                self.api.record_event(pod, "Normal", "Killing", f"Stopping container {c.name}", COMPONENT)
        for pgid in run.pgids:
            processes.signal_group(pgid, signal.SIGTERM)
        run.kill_at = time.monotonic() + max(0, int(grace))

    # ---- start ----
    def _start(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod.get("spec", {})
        uid = meta["uid"]
        requests = pod_requests(pod)
        try:
            pod_ip = HOST_IP if spec.get("hostNetwork") else self._ips.allocate()
        except PodIPExhausted as e:
            self.api.record_event(pod, "Warning", "FailedCreatePodSandBox", str(e), COMPONENT)
            return
        with self._lock:
            used_devices = {d for r in self._runs.values() for d in r.gpu_devices if d >= 0}
            used_slots = {s for r in self._runs.values() for s in r.gpu_slots}
        free_devices = [i for i in range(self.config.gpus) if i not in used_devices]
        free_slots = [i for i in range(self.config.gpus_shared) if i not in used_slots]
        devices = tuple(free_devices[: requests.get(GPU, 0)])
        slots = tuple(free_slots[: requests.get(GPU_SHARED, 0)])

        def runs(key: str) -> list[ContainerRun]:
            return [ContainerRun(c["name"], c.get("image", ""),
                                 self.log_path(meta["namespace"], meta["name"], c["name"]), uid,
                                 logs_on_error=c.get("terminationMessagePolicy") == "FallbackToLogsOnError")
                    for c in spec.get(key) or []]

        containers = runs("containers")
        run = PodRun(uid, meta["namespace"], meta["name"], spec.get("restartPolicy", "Always"), pod_ip,
                     self.config.state_dir / "pods" / uid, containers, devices, slots, runs("initContainers"))
        with self._lock:
            self._runs[uid] = run
        self._known[uid] = (run.namespace, run.name, [c.name for c in run.every_container])
        for name, want, have in ((GPU, requests.get(GPU, 0), devices), (GPU_SHARED, requests.get(GPU_SHARED, 0), slots)):
            if len(have) < want:
                run.failure = ("UnexpectedAdmissionError", f"Allocate failed due to requested number of devices "
                               f"unavailable for {name}. Requested: {want}, Available: {len(have)}")
        pod = self._report(pod, run)  # ContainerCreating, pod IP assigned
        if run.failure is not None:
            run.stopping = True
            for c in run.containers:
                c.state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": run.failure[1],
                                          "startedAt": run.start_time, "finishedAt": now_time()}}
            self._report(pod, run)
            return
        self._advance(pod, run)
        self._report(pod, run)

    def _visible_devices(self, run: PodRun) -> tuple[int, ...]:
        shared = {s % self.config.gpus for s in run.gpu_slots} if self.config.gpus else set()
        return tuple(sorted(set(run.gpu_devices) | shared))

    def _start_container(self, pod: Obj, run: PodRun, c: ContainerRun) -> None:
        key = "initContainers" if c in run.init_containers else "containers"
        spec = next(x for x in pod["spec"][key] if x["name"] == c.name)
        pull_error = image_pull_error(c.image)
        if pull_error is not None:
            c.state = {"waiting": {"reason": pull_error[0], "message": pull_error[1]}}
            c.restart_at = None
            if pull_error[0] == "ErrImagePull":
                self.api.record_event(pod, "Normal", "Pulling", f'Pulling image "{c.image}"', COMPONENT)
                self.api.record_event(pod, "Warning", "Failed", f'Failed to pull image "{c.image}": {pull_error[1]}',
                                      COMPONENT)
            self.api.record_event(pod, "Warning", "Failed", f"Error: {pull_error[0]}", COMPONENT)
            return
        ctx = PodContext(pod, run.pod_ip, HOST_IP, self.config.api_host, self.config.api_port,
                         self._visible_devices(run), self._python_dir, _base_env())
        try:
            dirs = volume_dirs(pod, self.config.state_dir, run.pod_dir)
            prepare_volumes(pod, dirs)
            mounts = container_mounts(spec, dirs)
            for mount in spec.get("volumeMounts") or []:
                if mount.get("subPath") and dirs.get(mount.get("name", "")) is not None:
                    Path(mounts[mount["mountPath"]]).mkdir(parents=True, exist_ok=True)
            env = container_env(ctx, spec, mounts, _allocatable_hint(self.config))
            argv = container_argv(spec, env, mounts)
            cwd = working_dir(spec, env, mounts, run.pod_dir)
        except (PodConfigError, OSError, ValueError) as e:
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            c.restart_at = None
            self.api.record_event(pod, "Warning", "Failed", f"Error: {e}", COMPONENT)
            return
        if c.restart_count == 0:
            self.api.record_event(pod, "Normal", "Pulled", f'Container image "{c.image}" already present on machine',
                                  COMPONENT)
        c.start(argv, env, cwd, self._wake.set)
        if c.running:
            self.api.record_event(pod, "Normal", "Created", f"Created container: {c.name}", COMPONENT)
            self.api.record_event(pod, "Normal", "Started", f"Started container {c.name}", COMPONENT)
        else:
            self.api.record_event(pod, "Warning", "Failed", f"Error: {c.state['terminated']['message']}", COMPONENT)

    # ---- status ----
    def _report(self, pod: Obj, run: PodRun) -> Obj:
        old = pod.get("status", {})
        statuses = [c.status() for c in run.containers]
        pending = tuple(c.name for c in run.pending_init)
        if run.failure or run.init_failed():
            phase = "Failed"
        elif pending and not run.stopping:
            phase = "Pending"
        else:
            phase = pod_phase(run.restart_policy, run.states(), run.stopping)
        status = {
            **old, "phase": phase, "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}],
            "podIP": run.pod_ip, "podIPs": [{"ip": run.pod_ip}], "startTime": old.get("startTime") or run.start_time,
            "containerStatuses": statuses,
            "conditions": pod_conditions(phase, statuses, True, old.get("conditions") or [], now_time(), pending),
        }
        if run.init_containers:
            status["initContainerStatuses"] = [
                {**c.status(), "ready": c.state.get("terminated", {}).get("exitCode") == 0} for c in run.init_containers]
        if run.failure:
            status["reason"], status["message"] = run.failure
        if status == old:
            return pod
        return self.api.update_status("pods", {**pod, "status": status})

    def _write_lost(self, pod: Obj, reason: str, message: str) -> Obj:
        old = pod.get("status", {})
        statuses = [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                     "started": False, "restartCount": 0, "state": LOST, "lastState": {}}
                    for c in pod.get("spec", {}).get("containers") or []]
        status = {**old, "phase": "Failed", "reason": reason, "message": message, "containerStatuses": statuses,
                  "conditions": pod_conditions("Failed", statuses, False, old.get("conditions") or [], now_time())}
        return self.api.update_status("pods", {**pod, "status": status})

    # ---- end of a pod ----
    def _final_delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta["uid"] in self._final_deleted:
            return
        self.api.delete("pods", meta["namespace"], meta["name"], grace_period_seconds=0, uid=meta["uid"])
        self._final_deleted.add(meta["uid"])

    def _release(self, uid: str) -> None:
        with self._lock:
            run = self._runs.pop(uid, None)
        if run is not None:
            self._ips.release(run.pod_ip)

    def _abandon(self, uid: str) -> None:
        """The pod vanished from the store (force delete): SIGTERM now, SIGKILL 2 s later."""
        for pgid in self._runs[uid].pgids:
            processes.signal_group(pgid, signal.SIGTERM)
            self._abandoned[pgid] = time.monotonic() + ABANDON_GRACE_SECONDS
        self._release(uid)

    def _reap_abandoned(self) -> None:
        now = time.monotonic()
        for pgid, kill_at in list(self._abandoned.items()):
            if not processes.group_alive(pgid):
                del self._abandoned[pgid]
            elif now >= kill_at:
                processes.signal_group(pgid, signal.SIGKILL)

    def _forget(self, uid: str, names: set[tuple[str, str]]) -> None:
        namespace, name, containers = self._known.pop(uid)
        self._final_deleted.discard(uid)
        shutil.rmtree(self.config.state_dir / "pods" / uid, ignore_errors=True)
        if (namespace, name) in names:
            return  # a new pod of the same name owns these log files now
        for container in containers:
            path = self.log_path(namespace, name, container)
            self.log_marks.forget(path)
            path.unlink(missing_ok=True)


def _base_env() -> dict[str, str]:
    return dict(os.environ)


def _allocatable_hint(config: ControllerConfig) -> dict[str, str]:
    return {"cpu": str(config.cpu), "memory": str(config.memory_bytes)}
