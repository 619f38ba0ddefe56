"""Privacy (LGPD): consents, the patient data export, anonymisation and retention."""
