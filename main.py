"""trainlab CLI: `python main.py --help`."""

import sys

from trainlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
