"""`python -m streamer` runs the streamer CLI."""

import sys

from streamer.cli import main

sys.exit(main())
