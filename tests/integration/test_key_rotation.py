"""Rotating the signing key: no moment where a token signed by one process fails at another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinic_api.admin import main as admin_main
from clinic_core.identity.model import ACCESS_TOKEN_LIFETIME
from clinic_core.identity.ports import AccessClaims
from clinic_core.shared.ids import SessionId, TenantId, UserId, new_uuid
from clinic_infra.security.jwt import JwtAccessTokens, SigningKey, split_pem_keys
from clinic_infra.security.keyring import DirectoryKeyRing, rotate_keys


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def _claims(now: float) -> AccessClaims:
    issued = datetime.fromtimestamp(now, UTC)
    return AccessClaims(
        UserId(new_uuid()),
        TenantId(new_uuid()),
        SessionId(new_uuid()),
        frozenset(),
        frozenset(),
        issued,
        issued + ACCESS_TOKEN_LIFETIME,
    )


def _tokens(ring: DirectoryKeyRing) -> JwtAccessTokens:
    return JwtAccessTokens(ring, issuer="clinic", audience="clinic-api")


def test_a_new_key_is_published_everywhere_before_anyone_signs_with_it(tmp_path: Path) -> None:
    clock = Clock(datetime.now(UTC).timestamp())
    process_a = DirectoryKeyRing(tmp_path, reload_seconds=30, clock=clock)
    process_b = DirectoryKeyRing(tmp_path, reload_seconds=30, clock=clock)
    first_kid = process_a.signing_key().kid
    assert process_b.signing_key().kid == first_kid  # one first key, whoever started first

    rotation = rotate_keys(tmp_path, now=clock.at, reload_seconds=30)
    assert rotation.new.active_from == int(clock.at) + 60

    clock.at += 31  # both processes rescan; the new key is published but does not sign yet
    assert {k["kid"] for k in _tokens(process_a).jwks()["keys"]} == {first_kid, rotation.new.key.kid}
    assert process_a.signing_key().kid == first_kid
    old_token = _tokens(process_b).issue(_claims(datetime.now(UTC).timestamp()))

    clock.at += 30  # now it signs, and tokens of both keys verify in both processes
    new_token = _tokens(process_a).issue(
        _claims(datetime.now(UTC).timestamp())
    )  # the ring's clock moved, not the token's
    assert process_a.signing_key().kid == rotation.new.key.kid
    for verifier in (_tokens(process_a), _tokens(process_b)):
        assert verifier.verify(old_token) is not None
        assert verifier.verify(new_token) is not None


def test_rotation_prunes_only_keys_whose_tokens_have_all_expired(tmp_path: Path) -> None:
    start = datetime.now(UTC).timestamp()
    first = DirectoryKeyRing(tmp_path, reload_seconds=30, clock=lambda: start).signing_key().kid
    second = rotate_keys(tmp_path, now=start, reload_seconds=30)
    assert second.removed == []  # the first key still signs
    soon = start + 120
    third = rotate_keys(tmp_path, now=soon, reload_seconds=30)
    assert third.removed == []  # tokens of the first key may still be alive
    later = soon + timedelta(hours=1).total_seconds()
    fourth = rotate_keys(tmp_path, now=later, reload_seconds=30)
    assert fourth.removed == [first, second.new.key.kid]
    kids = {k.key.kid for k in DirectoryKeyRing(tmp_path, clock=lambda: later).all_keys()}
    assert kids == {third.new.key.kid, fourth.new.key.kid}


def test_the_legacy_single_key_file_becomes_the_first_key(tmp_path: Path) -> None:
    ring = DirectoryKeyRing(tmp_path / "new", legacy_key=tmp_path / "missing.pem")
    legacy = tmp_path / "jwt-signing-key.pem"
    legacy.write_bytes(ring.all_keys()[0].path.read_bytes())
    adopted = DirectoryKeyRing(tmp_path / "adopted", legacy_key=legacy)
    assert adopted.signing_key().kid == SigningKey.from_pem(legacy.read_bytes()).kid


def test_previous_configured_keys_still_verify(tmp_path: Path) -> None:
    old_ring = DirectoryKeyRing(tmp_path / "old")
    old_pem = old_ring.all_keys()[0].path.read_text()
    new_ring = DirectoryKeyRing(tmp_path / "new")
    new_key = new_ring.signing_key()
    previous = split_pem_keys("some comment\n" + old_pem + "\n")
    assert [k.kid for k in previous] == [old_ring.signing_key().kid]
    token = _tokens(old_ring).issue(_claims(datetime.now(UTC).timestamp()))
    rotated = JwtAccessTokens(new_key, issuer="clinic", audience="clinic-api", previous=tuple(previous))
    assert rotated.verify(token) is not None


def test_clinic_admin_keys_list_and_rotate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CLINIC_JWT_PRIVATE_KEY", "CLINIC_JWT_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    assert admin_main(["keys", "list"]) == 0
    assert capsys.readouterr().out.count("signing") == 1
    assert admin_main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert "signs from" in out
    assert {line.split()[1] for line in out.splitlines() if "active from" in line} == {"signing", "pending"}


def test_clinic_admin_refuses_to_rotate_a_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = DirectoryKeyRing(tmp_path / "ring").all_keys()[0].path
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLINIC_JWT_PRIVATE_KEY_FILE", str(key_file))
    assert admin_main(["keys", "rotate"]) == 2
    assert "CLINIC_JWT_PREVIOUS_KEYS_FILE" in capsys.readouterr().err
