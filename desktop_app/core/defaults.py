"""Defaults a user can see or override, written once: the engine, the service, the CLI and the fast entry
point all read them from here. No imports, so `tokendesk token`'s fast path can use it for free."""

# How long a sign-in waits for the browser to come back to the loopback redirect.
SIGN_IN_TIMEOUT_S = 300.0

# A sign-in on another device (RFC 8628) waits as long as its code lives (GitHub and Entra: 15 minutes), but never
# longer than this unless the user asks for a timeout: the user has to find a second device first.
DEVICE_WAIT_MAX_S = 1800.0

# `tokendesk token` (and Service.token) refresh first unless the access token stays valid this long.
MIN_VALID_S = 60.0
