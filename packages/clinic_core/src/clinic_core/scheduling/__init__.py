"""Scheduling: working time, availability, appointments and the waitlist."""
