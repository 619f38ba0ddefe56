"""The shared kernel: ids, time, errors, events and value objects used by every context."""
