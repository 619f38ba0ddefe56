"""The ceiling: a bare BlackSheep endpoint under the same server settings as the API."""

from __future__ import annotations

from blacksheep import Application, Response, json

app = Application()


@app.router.get("/bare")
async def bare() -> Response:
    return json({"status": "ok"})
