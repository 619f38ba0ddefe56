"""Webhooks: tenants' HTTPS endpoints that receive signed deliveries of the events they subscribe to."""
