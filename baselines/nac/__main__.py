"""``python -m baselines.nac``."""

import sys

from baselines.nac.cli import main

sys.exit(main())
