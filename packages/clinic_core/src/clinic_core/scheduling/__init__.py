"""Scheduling: working time, the availability engine, appointments and the waitlist."""
