"""Entry point of the PyInstaller bundle: one executable for the `tokendesk` command and the desktop app.

The same entry as `tokendesk` from a wheel (`desktop_app.fastcli`): no arguments or `--hidden` alone (what the
autostart entry runs, see `desktop_app/ui/autostart.py`) start the desktop app; `token` asks a running app
first, with the standard library's smallest pieces; anything else is the full command line. The spec lists
every module of ours as a hidden import, since fastcli loads the app and the full CLI only when needed.
"""

import sys

from desktop_app.fastcli import main

if __name__ == "__main__":
    sys.exit(main())
