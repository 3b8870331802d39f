"""The streamer image definition (no container engine here: checked by parsing) and its build script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "streamer" / "Containerfile"
SCRIPT = ROOT / "scripts" / "build-streamer-image.sh"


def _instructions() -> list[tuple[str, str]]:
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_image_runs_as_non_root_with_the_streamer_entrypoint():
    ins = _instructions()
    users = [arg for op, arg in ins if op == "USER"]
    assert users, "no USER instruction: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    last_user = max(i for i, (op, _) in enumerate(ins) if op == "USER")
    assert all(op != "RUN" for op, _ in ins[last_user:]), "RUN after USER would need root"
    entry = [arg for op, arg in ins if op == "ENTRYPOINT"]
    assert len(entry) == 1 and json.loads(entry[0]) == ["streamer"]


def test_image_is_cuda_runtime_with_the_gpu_extra():
    ins = _instructions()
    args = {arg.split("=", 1)[0]: arg.split("=", 1)[1] for op, arg in ins if op == "ARG" and "=" in arg}
    base = [arg for op, arg in ins if op == "FROM"][0]
    assert base == "${CUDA_IMAGE}" and "cuda" in args["CUDA_IMAGE"] and "runtime" in args["CUDA_IMAGE"]
    assert any(op == "RUN" and '[gpu]"' in arg for op, arg in ins)


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=30, check=False)


def test_build_script_selects_engine_tags_and_pushes():
    for engine, build in (("podman", "podman build"), ("docker", "docker build"), ("buildah", "buildah bud")):
        out = _script("--engine", engine, "--tag", "reg.example/sj/streamer:1", "--push", "--dry-run")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == "reg.example/sj/streamer:1"
        assert f"+ {build} -f {CONTAINERFILE} -t reg.example/sj/streamer:1" in out.stderr
        assert f"+ {engine} push reg.example/sj/streamer:1" in out.stderr


def test_build_script_refuses_bad_arguments():
    out = _script("--engine", "kaniko", "--dry-run")
    assert out.returncode == 2 and "--engine=kaniko: must be podman, buildah or docker" in out.stderr
    assert _script("--frobnicate").returncode == 2
