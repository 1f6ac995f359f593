"""``python -m fusionscope``: the same as the ``fusionscope`` command."""

import sys

try:
    from fusionscope.cli import run
except KeyboardInterrupt:  # Ctrl-C while the first imports run: one line, like any other moment
    print("error: stopped by SIGINT (Ctrl-C) before any trial started; nothing was recorded", file=sys.stderr)
    sys.exit(130)

run()
