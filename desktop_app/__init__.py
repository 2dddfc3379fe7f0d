"""Tokendesk: an OAuth 2.0 / OpenID Connect token manager for the desktop."""

__version__ = "0.1.0"
