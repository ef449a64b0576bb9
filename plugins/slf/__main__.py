"""``python -m slf``: the same command line as the ``slf`` console script."""
import sys

from .cli import main

sys.exit(main())
