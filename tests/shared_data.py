"""Where the test data from outside the project lives: ``CLINIC_SHARED_DATA``, by default the ``shared/data``
folder beside the repository (``<repo>/../shared/data``). It is read in place, never copied in.

A test that needs it fails, naming the folder and the variable, when it is missing: it is never skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data(*parts: str) -> Path:
    base = Path(os.environ.get("CLINIC_SHARED_DATA") or ROOT.parent / "shared" / "data")
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"the shared test data is missing: {path} does not exist. Put the project's shared/ folder beside"
            " the repository, or set CLINIC_SHARED_DATA to its data/ folder",
            pytrace=False,
        )
    return path


def synthea() -> Path:
    return shared_data("synthea")
