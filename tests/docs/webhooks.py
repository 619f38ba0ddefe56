"""The signature check docs/API.md gives receivers, as code: the ```python blocks of its Webhooks section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.docs.markdown import DOCS, sections_with

SECTION = "Webhooks"


def verify_as_documented(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    """Run the guide's ``verify(secret, headers, body)`` on a delivery a test received."""
    sections = {s.heading: s for s in sections_with((DOCS / "API.md").read_text(encoding="utf-8"), "python")}
    assert SECTION in sections, f"docs/API.md has no '## {SECTION}' section with a python block"
    namespace: dict[str, Any] = {}
    exec(compile("".join(b.source for b in sections[SECTION].blocks), "docs/API.md", "exec"), namespace)  # noqa: S102
    return namespace["verify"](secret, dict(headers), body)
