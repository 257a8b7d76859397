"""``python -m icpscan`` runs the command line."""

import sys

from icpscan.lean import keep_unused_heavy_modules_out

keep_unused_heavy_modules_out()

from icpscan.cli import main  # noqa: E402 (after the heavy modules are kept out)

sys.exit(main())
