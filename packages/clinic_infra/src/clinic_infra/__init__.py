"""clinic_infra."""
