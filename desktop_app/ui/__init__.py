"""Thin PySide6 layer over the core."""
