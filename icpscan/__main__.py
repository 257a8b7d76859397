"""``python -m icpscan`` and the ``icpscan`` console script run the command line."""

import sys


def run() -> None:
    from icpscan.lean import keep_unused_heavy_modules_out

    keep_unused_heavy_modules_out()  # before the CLI imports sqlite-utils
    from icpscan.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
