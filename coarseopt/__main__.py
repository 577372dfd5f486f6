"""``python -m coarseopt``: the same as the ``coarseopt`` command."""

import sys

from .cli import main

sys.exit(main())
