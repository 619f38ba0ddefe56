"""clinic_api."""
