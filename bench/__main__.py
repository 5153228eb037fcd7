"""``python -m bench``: see :mod:`bench.cli`."""

import sys

from bench import cli

sys.exit(cli.main())
