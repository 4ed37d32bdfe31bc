"""`python -m warren serve`."""

import sys

from warren.cli import main

sys.exit(main())
