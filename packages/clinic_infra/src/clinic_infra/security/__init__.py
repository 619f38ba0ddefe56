"""Password hashing and access-token signing."""
