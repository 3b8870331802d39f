#!/usr/bin/env bash
# Builds (and optionally pushes) the streamer image from streamer/Containerfile.
# Usage: scripts/build-streamer-image.sh [--engine podman|buildah|docker] [--tag IMAGE:TAG]
#                                        [--push] [--cuda-image IMAGE] [--dry-run]
# Engine: --engine, else $STREAMER_IMAGE_ENGINE, else the first of podman, buildah, docker found.
# Prints the image reference on the last line of stdout. Exit 2 on bad arguments, 3 without engine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
engine="${STREAMER_IMAGE_ENGINE:-}"
tag="${STREAMER_IMAGE:-localhost/spectrojobs/streamer:dev}"
push=false
dry_run=false
cuda_image=""

usage() { sed -n '2,6p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine="${2:?--engine needs a value}"; shift 2 ;;
    --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
    --push) push=true; shift ;;
    --cuda-image) cuda_image="${2:?--cuda-image needs a value}"; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done

if [ -z "$engine" ]; then
  for candidate in podman buildah docker; do
    if command -v "$candidate" >/dev/null 2>&1; then engine="$candidate"; break; fi
  done
fi
case "$engine" in
  podman|buildah|docker) ;;
  "") echo "no container engine found (podman, buildah or docker); set --engine" >&2; exit 3 ;;
  *) echo "--engine=$engine: must be podman, buildah or docker" >&2; exit 2 ;;
esac
case "$tag" in
  *[[:space:]]*|"") echo "--tag='$tag': must be a non-empty image reference without spaces" >&2; exit 2 ;;
esac

# A small build context: only what the image installs (never .venv, state or artifacts).
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$root/pyproject.toml" "$root/README.md" "$context/"
cp -r "$root/streamer" "$context/streamer"
find "$context/streamer" -name __pycache__ -prune -exec rm -rf {} +

build_args=()
[ -n "$cuda_image" ] && build_args+=(--build-arg "CUDA_IMAGE=$cuda_image")
if [ "$engine" = buildah ]; then
  build=(buildah bud -f "$root/streamer/Containerfile" -t "$tag" "${build_args[@]}" "$context")
else
  build=("$engine" build -f "$root/streamer/Containerfile" -t "$tag" "${build_args[@]}" "$context")
fi
push_cmd=("$engine" push "$tag")

run() {
  if $dry_run; then echo "+ $*" >&2; else "$@" >&2; fi
}
run "${build[@]}"
if $push; then run "${push_cmd[@]}"; fi
echo "$tag"
