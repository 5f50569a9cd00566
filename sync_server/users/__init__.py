"""Users and API keys (admin only), and each user's own account."""
