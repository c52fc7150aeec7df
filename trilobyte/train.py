"""``python -m trilobyte.train``: trains a Trilobyte GPT-2 model (:mod:`trilobyte.gpt2.train`)."""

import sys

from trilobyte.gpt2.train import main

if __name__ == "__main__":
    sys.exit(main())
