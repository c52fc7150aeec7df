"""``python -m baselines.flac_sweep``: the FLAC level sweep (kept as a command; the code is in baselines/flac/)."""

import sys

from baselines.flac.sweep import main

if __name__ == "__main__":
    sys.exit(main())
