"""``python -m pytest_fioloadgen.cli``."""

import sys

from . import main

sys.exit(main())
