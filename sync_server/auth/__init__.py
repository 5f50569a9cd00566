"""Authentication (passwords, tokens, API keys) and authorisation (roles and permissions)."""
