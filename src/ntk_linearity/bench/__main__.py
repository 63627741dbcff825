"""``python -m ntk_linearity.bench``: see :mod:`ntk_linearity.bench`."""

from ntk_linearity.bench.cli import main

if __name__ == "__main__":
    main()
