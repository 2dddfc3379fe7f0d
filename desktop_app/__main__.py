"""`python -m desktop_app`: the same as the `tokendesk` command."""

import sys

from .cli import main

sys.exit(main())
