"""Scheduling: working time, the availability engine, and (with the booking feature) appointments."""
