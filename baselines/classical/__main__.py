"""``python -m baselines.classical``."""

import sys

from baselines.classical.cli import main

sys.exit(main())
