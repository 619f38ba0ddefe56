"""QR codes for the enrolment response: an SVG data URI a web or mobile client can show as an image."""

from __future__ import annotations

import base64
import io

import segno


def svg_data_uri(text: str) -> str:
    """``data:image/svg+xml;base64,...`` of a QR code encoding ``text`` (error correction M, which
    authenticator apps read from a screen without trouble)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="svg", scale=4, border=4, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
