"""``python -m ntk_linearity.bench``: see :mod:`ntk_linearity.bench`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
