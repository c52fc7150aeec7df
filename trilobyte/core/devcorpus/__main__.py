"""``python -m trilobyte.core.devcorpus``: build the development corpus (:mod:`trilobyte.core.devcorpus.build`)."""

import sys

from trilobyte.core.devcorpus.build import main

if __name__ == "__main__":
    sys.exit(main())
