"""Identity: user accounts, sign-in sessions and the refresh-token family of each session."""
