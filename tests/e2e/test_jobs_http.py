"""The embedded default's jobs, as a person trying the quickstart meets them: ``clinic-api`` with nothing
configured runs the outbox relay and the email handlers itself, and the verification email of a sign-up
lands as an ``.eml`` file whose link verifies the address."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from clinic_infra.mail.files import read_eml
from tests.e2e.conftest import Server

PASSWORD = "correct horse battery staple"


def _mail_to(directory: Path, address: str, timeout: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p in sorted(directory.glob("*.eml")) if read_eml(p)["To"] == address]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_embedded_api_mails_a_sign_up_s_verification_link_that_verifies(embedded_server: Server) -> None:
    mail_dir = embedded_server.log.parent / "data" / "mail"
    email = f"quickstart-{uuid.uuid4().hex[:8]}@example.com"
    with embedded_server.client() as client:
        signed = client.post(
            "/v1/signup",
            json={
                "tenant_name": "Clínica Local",
                "unit_name": "Centro",
                "timezone": "America/Sao_Paulo",
                "owner_name": "Ana Souza",
                "email": email,
                "password": PASSWORD,
            },
        )
        assert signed.status_code == 201, signed.text

        [path] = _mail_to(mail_dir, email)
        message = read_eml(path)
        assert message["Subject"] == "Confirme seu e-mail para Clínica Local"
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        link = next(
            word for word in str(body.get_content()).split() if "/v1/auth/verify-email?token=" in word
        )
        token = parse_qs(urlsplit(link).query)["token"][0]

        tokens = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        assert me["email_verified"] is False
        assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        assert me["email_verified"] is True
