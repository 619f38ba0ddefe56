from __future__ import annotations

from blacksheep import Content, Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController
from prometheus_client import CONTENT_TYPE_LATEST

from clinic_api.metrics import HttpMetrics
from clinic_api.openapi import documented
from clinic_api.routing import get


class Metrics(APIController):
    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    @classmethod
    def route(cls) -> str:
        return "/metrics"

    @allow_anonymous()
    @documented(200, description="Prometheus text exposition format.")
    @get("/")
    async def scrape(self) -> Response:
        """Request counts and latencies, by method, route template and status, for Prometheus.

        Anonymous, like /health: keep it off the public network (ingress rule), not behind a token.
        """
        return Response(200, None, Content(CONTENT_TYPE_LATEST.encode(), self._metrics.exposition()))
