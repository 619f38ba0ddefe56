"""The security audit trail: what happened to accounts, sessions, keys and roles, by whom, from where."""
