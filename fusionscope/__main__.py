"""``python -m fusionscope``: the same as the ``fusionscope`` command."""

import sys

from fusionscope.cli import main

sys.exit(main())
