"""Regenerates streamer_pb2.py and streamer_pb2_grpc.py from streamer.proto.

Run from anywhere: `python streamer/protos/codegen.py`. grpcio and grpcio-tools are pinned
together (1.85.1): the generated code guards the runtime version. protoc emits an absolute
`import streamer_pb2`; we rewrite it to a package-relative import.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTO = "streamer.proto"


def main() -> int:
    args = [
        "grpc_tools.protoc",
        f"-I{HERE}",
        f"--python_out={HERE}",
        f"--grpc_python_out={HERE}",
        str(HERE / PROTO),
    ]
    rc = protoc.main(args)
    if rc != 0:
        print(f"protoc failed with exit code {rc}", file=sys.stderr)
        return rc
    grpc_file = HERE / "streamer_pb2_grpc.py"
    text = grpc_file.read_text()
    fixed = re.sub(r"^import streamer_pb2 as", "from . import streamer_pb2 as", text, flags=re.M)
    grpc_file.write_text(fixed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
