"""What every use case shares: the acting principal, the unit of work, pagination, cross-cutting ports."""
