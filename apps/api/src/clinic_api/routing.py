"""Where controllers declare their routes, and what answers when no route matches.

Controllers decorate their methods with ``get``/``post`` from a registry of this module rather than
BlackSheep's global one; each app copies the registry into its own router, so any number of apps (one per
test) can be built in one process.
"""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server import Application
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.routing import Router, RoutesRegistry

from clinic_api.error_handling import http_problem
from clinic_api.problems import ProblemRaised

controller_routes = RoutesRegistry()
get = controller_routes.get
post = controller_routes.post
put = controller_routes.put
patch = controller_routes.patch
delete = controller_routes.delete


def allowed_methods(router: Router, request: Request) -> list[str]:
    path = request.url.path
    return sorted(
        method.decode()
        for method, routes in router.routes.items()
        if b"_" not in method and any(route.match_by_path(path) for route in routes)
    )


def not_found_fallback(router: Router) -> object:
    @allow_anonymous()
    async def no_route(request: Request) -> Response:
        # Anonymous on purpose: an unknown path is a 404 for everybody, not a 401 for strangers.
        methods = allowed_methods(router, request)
        if methods:
            raise ProblemRaised(
                http_problem(405, f"use {', '.join(methods)}").with_headers(("Allow", ", ".join(methods)))
            )
        raise ProblemRaised(http_problem(404, "no such route"))

    return no_route


def configure_routes(app: Application) -> None:
    for route in controller_routes:
        app.router.controllers_routes.add(route.method, route.pattern, route.handler)
    app.router.fallback = not_found_fallback(app.router)
