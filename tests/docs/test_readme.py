"""The README's configuration table lists every setting the code reads, and nothing it does not."""

from __future__ import annotations

import re
from pathlib import Path

from clinic_infra.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_and_every_listed_one_exists() -> None:
    listed = set(re.findall(r"^\| `(CLINIC_[A-Z0-9_]+)` \|", README.read_text(encoding="utf-8"), re.M))
    read = {f"CLINIC_{name.upper()}" for name in Settings.model_fields}
    tests_only = {"CLINIC_TEST_DATABASE_URL", "CLINIC_TEST_REDIS_URL", "CLINIC_SHARED_DATA"}
    assert read - listed == set(), "settings missing from the README's configuration table"
    assert listed - read - tests_only == set(), "the README lists settings the code does not read"
