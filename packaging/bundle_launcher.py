"""Entry point of the PyInstaller bundle: one executable for the `tokendesk` command and the desktop app.

The same routing as `tokendesk` from a wheel (no arguments: the desktop app), plus `--hidden` alone, which is
what the autostart entry runs (`desktop_app/ui/autostart.py` uses the bundle's own executable when frozen).
"""

import sys

GUI_ONLY_FLAGS = {"--hidden"}


def main() -> int:
    args = sys.argv[1:]
    if args and set(args) <= GUI_ONLY_FLAGS:
        from desktop_app.ui.app import main as gui_main

        return int(gui_main())
    from desktop_app.cli import main as cli_main

    return int(cli_main())


if __name__ == "__main__":
    sys.exit(main())
