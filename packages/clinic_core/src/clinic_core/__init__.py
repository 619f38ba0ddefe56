"""clinic_core."""
