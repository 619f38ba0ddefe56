"""Attachments over real HTTP (uvicorn, a streamed request body, the filesystem blob store on disk)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.values import Email
from clinic_core.testing.patients import a_person
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests import attachment_samples as samples
from tests.e2e.conftest import serving

PASSWORD = "correct horse battery staple"
MAX_BYTES = 2 * 1024 * 1024


async def _verified_owner_with_patient(database: Path, email: str, tenant_id: str) -> str:
    """What no route does yet: verify the owner's email and register a patient, in the server's SQLite."""
    engine = create_engine(f"sqlite:///{database}")
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow(Scope()) as tx:
            user = await tx.users.get_by_email(Email(email))
            assert user is not None
            user.email_verified_at = datetime.now(UTC)
            await tx.users.save(user)
            await tx.commit()
        patient = a_person(uuid.UUID(tenant_id))  # type: ignore[arg-type]
        async with uow(Scope(tenant_id=patient.tenant_id)) as tx:
            await tx.patients.add(patient)
            await tx.commit()
        return str(patient.id)
    finally:
        await engine.dispose()


async def test_upload_and_download_stream_over_http_and_oversize_keeps_nothing(tmp_path: Path) -> None:
    env = {"CLINIC_ATTACHMENT_MAX_BYTES": str(MAX_BYTES), "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "100"}
    with serving(tmp_path, env, "--migrate") as server, server.client() as client:
        email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
        signed = client.post(
            "/v1/signup",
            json={
                "tenant_name": "Clínica Arquivo",
                "unit_name": "Centro",
                "timezone": "America/Sao_Paulo",
                "owner_name": "Ana Souza",
                "email": email,
                "password": PASSWORD,
            },
        )
        assert signed.status_code == 201, signed.text
        patient = await _verified_owner_with_patient(
            tmp_path / "data" / "clinic.sqlite3", email, signed.json()["tenant"]["id"]
        )
        token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        path = f"/v1/patients/{patient}/attachments"

        photo = samples.png(os.urandom(MAX_BYTES - 4096))  # many request chunks, just under the limit
        created = client.post(
            path,
            headers=auth,
            data={"category": "photo_before", "description": "Antes da aplicação"},
            files={"file": ("antes.png", photo, "image/png")},
        )
        assert created.status_code == 201, created.text
        attachment = created.json()
        assert attachment["sha256"] == hashlib.sha256(photo).hexdigest()
        blob_files = [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
        assert [p.name for p in blob_files] == [attachment["sha256"]]

        with client.stream("GET", attachment["content_url"], headers=auth) as download:
            assert download.status_code == 200
            assert download.headers["content-type"] == "image/png"
            assert download.headers["content-length"] == str(len(photo))
            assert download.headers["etag"] == f'"{attachment["sha256"]}"'
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["content-disposition"].startswith("attachment;")
            assert b"".join(download.iter_bytes()) == photo

        def chunked(total: int) -> Iterator[bytes]:  # no Content-Length: refused while it streams
            yield samples.pdf()
            for _ in range(total // 65536):
                yield b"\0" * 65536

        refused = client.post(
            path,
            headers={**auth, "Content-Type": "application/pdf"},
            params={"category": "exam_result"},
            content=chunked(MAX_BYTES + 200_000),
        )
        assert refused.status_code == 413, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        leftovers = [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
        assert leftovers == blob_files  # nothing of the refused upload, not even a temporary file

        wrong = client.post(
            path,
            headers=auth,
            data={"category": "document"},
            files={"file": ("nota.pdf", samples.html(), "application/pdf")},
        )
        assert wrong.status_code == 415
        assert wrong.json()["code"] == "media_type_mismatch"
