"""Authentication: password hashing, JWT access/refresh tokens, API keys."""
