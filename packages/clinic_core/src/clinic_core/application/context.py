"""Where a request came from: what use cases record in sessions and in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The caller's network address, user agent and the request's id, as the host saw them.

    Hosts fill it from the transport (the HTTP host from the connection and headers); an embedder that
    calls use cases directly may leave it empty.
    """

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        # Bounded here once, so that no store has to guess: a user agent is free text from the client.
        if self.user_agent is not None:
            object.__setattr__(self, "user_agent", self.user_agent[:512] or None)
        if self.request_id is not None:
            object.__setattr__(self, "request_id", self.request_id[:128] or None)


NO_CONTEXT = RequestContext()
