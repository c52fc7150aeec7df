"""``python -m trilobyte.estimate``: a Trilobyte GPT-2 model's rate on datasets (:mod:`trilobyte.gpt2.estimate`)."""

import sys

from trilobyte.gpt2.estimate import main

if __name__ == "__main__":
    sys.exit(main())
