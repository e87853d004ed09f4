"""``python -m portal_client``: the ``qportal`` command line."""

import sys

from portal_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
