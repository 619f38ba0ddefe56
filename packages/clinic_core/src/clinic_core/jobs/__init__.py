"""Jobs: what leaves a transaction through the outbox, and what handles it.

A use case records events (``DomainEvent``) on the aggregates it changes, or on the unit of work itself
(``UnitOfWork.record``) for a job request not carried by an aggregate. The unit of work writes them to the
outbox in the same transaction as the change. A relay (``relay.RelayOutbox``) moves outbox rows to a job
queue (RQ in production, in-process in the embedded default), one job per row, the row's id being the job's
id. The job runs every handler subscribed to the row's topic (``handlers.HandleOutboxMessage``), each in a
transaction of its own that first claims a receipt ``(message, handler)``: a row delivered twice runs each
handler's effect once.
"""
