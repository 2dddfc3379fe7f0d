"""Thin PySide6 layer over the core."""

from . import sourcescan

sourcescan.install()
