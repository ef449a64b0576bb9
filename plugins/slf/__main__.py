"""``python -m slf``: the same command line as the ``slf`` console script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
