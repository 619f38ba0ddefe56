"""Prometheus metrics of the HTTP host, in a registry of the app's own (several apps, several registries).

Requests are labelled by the route *template* (``/v1/units/{unit_id}``), never the raw path: one series
per route, not one per id, and no ids in the metrics.
"""

from __future__ import annotations

from blacksheep import Request
from blacksheep.server.routing import Router
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

UNMATCHED_ROUTE = "unmatched"


class HttpMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests handled, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to produce the response, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )

        self.limiter_outages = Counter(
            "rate_limiter_unavailable",
            "Requests whose budget could not be counted (limiter down), by route class and outcome.",
            ["route_class", "outcome"],
            registry=self.registry,
        )

    def limiter_unavailable(self, route_class: str, *, served: bool) -> None:
        self.limiter_outages.labels(route_class, "served" if served else "refused").inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_template(router: Router, request: Request) -> str:
    """The pattern of the route that handles ``request``, as the router matches it; ``unmatched`` if none."""
    route = router.get_matching_route(request.method, request.url.path)
    return route.mustache_pattern if route is not None else UNMATCHED_ROUTE
