"""`spectrojobs api`: serve the trigger API (werkzeug's threaded server) until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path

from werkzeug.serving import make_server

from glue.errors import ConfigurationError

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("api", help="serve the trigger API",
                                   description="Serve the trigger API. Settings: GLUE_* environment "
                                               "variables (see glue.api.default_config).")
    parser.add_argument("--host", default=os.environ.get("GLUE_HOST", "127.0.0.1"), help="bind address")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GLUE_PORT", "8080")),
                        help="port (0: any free port, see --port-file)")
    parser.add_argument("--open", action="store_true",
                        help="open (local) mode: callers without a token act as the admin 'local'")
    parser.add_argument("--tokens-file", help="bearer tokens (YAML/JSON list of {identity, token, admin})")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file once listening")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glue.api import create_app, shutdown

    overrides = {}
    if args.open:
        overrides["OPEN_MODE"] = True
    if args.tokens_file:
        overrides["TOKENS_FILE"] = args.tokens_file
    try:
        app = create_app(overrides)
    except ConfigurationError as exc:
        logger.error("cannot start the API: %s", exc)
        return 2
    server = make_server(args.host, args.port, app, threaded=True)
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        args.port_file.write_text(f"{server.server_port}\n")
    logger.info("API listening on http://%s:%d", args.host, server.server_port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        shutdown(app, cancel_runs=True)
    return 0
