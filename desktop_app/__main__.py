"""`python -m desktop_app`: the same as the `tokendesk` command."""

import sys

from .fastcli import main

sys.exit(main())
