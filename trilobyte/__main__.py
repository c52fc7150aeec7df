"""``python -m trilobyte encode|decode|test|info``: the Trilobyte GPT-2 codec (:mod:`trilobyte.gpt2.__main__`)."""

import sys

from trilobyte.gpt2.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
