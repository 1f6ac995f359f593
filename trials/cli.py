"""``python -m trials.cli``: kept as an alias of ``fusionscope.cli`` (tests and older docs use it)."""

import sys

from fusionscope.cli import build_parser, main  # noqa: F401  (re-exported)

if __name__ == "__main__":
    sys.exit(main())
