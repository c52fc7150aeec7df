"""``python -m baselines.flac_frames``: libFLAC's frames read back (the code is in baselines/flac/)."""

import sys

from baselines.flac.frames_cli import main

if __name__ == "__main__":
    sys.exit(main())
