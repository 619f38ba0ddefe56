"""clinic_worker."""
