"""Tenancy: tenants (the isolation boundary), their units (locations), memberships and invitations."""
