"""The job machinery made real: RQ as the queue (or an in-process runner for the embedded default), the
dispatcher loop that runs the relay and ticks recurring jobs, and the wiring of handlers to adapters."""
