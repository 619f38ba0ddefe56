"""Patients (people and animals), their guardians, search and the record of who read them."""
