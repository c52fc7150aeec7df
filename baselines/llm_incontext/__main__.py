"""``python -m baselines.llm_incontext``."""

import sys

from baselines.llm_incontext.cli import main

sys.exit(main())
