"""Packaging tests: resources, desktop metadata, the wheel and the autostart entry (no provider, no keychain)."""

import os

# Rendering SVGs needs a QGuiApplication but never a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
