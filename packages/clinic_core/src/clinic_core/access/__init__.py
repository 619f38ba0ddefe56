"""Who may do what in a tenant: the tenant's own roles, and API keys for the systems it integrates."""
