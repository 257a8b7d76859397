"""``python -m icpscan`` runs the command line."""

import sys

from icpscan.cli import main

sys.exit(main())
