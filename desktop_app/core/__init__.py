"""Qt-free core of Tokendesk: providers, OAuth flow, keychain vault, refresh engine, service facade."""
