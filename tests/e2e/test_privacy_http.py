"""LGPD export and anonymisation over real HTTP: a real ``clinic-api`` process on PostgreSQL (as the app
role) with the filesystem blob store. A person with CPF, identifiers, contacts and a pet with guardians,
weights, consents and attachments is exported whole (staff and portal), then anonymised: the export and
the record show no identity, no search finds her, the access log keeps every read."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests import attachment_samples as samples
from tests.e2e.conftest import Server

PASSWORD = "correct horse battery staple"
CPF = "529.982.247-25"
PHONE = "+5511987654321"
EMAIL = "maria.albuquerque@example.com"
MICROCHIP = "985112345678901"
RG = "12.345.678-9"
CNS = "123456789012345"


def _owner(client: httpx.Client) -> tuple[dict[str, str], str]:
    email = f"privacy-{uuid.uuid4().hex[:8]}@example.com"
    signed = client.post(
        "/v1/signup",
        json={
            "tenant_name": "Clínica Privacidade",
            "unit_name": "Centro",
            "timezone": "America/Sao_Paulo",
            "owner_name": "Ana Souza",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert signed.status_code == 201, signed.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}", "User-Agent": "e2e-privacy"}
    # Patient data is withheld from unverified emails by default; this test is about privacy.
    opened = client.put("/v1/tenant/security-policy", json={"unverified_email_access": "full"}, headers=auth)
    assert opened.status_code == 200, opened.text
    # A new session: the server trusts what it learnt of the first one for a few seconds.
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}", "User-Agent": "e2e-privacy"}
    me = client.get("/v1/me", headers=auth)
    return auth, me.json()["user"]["id"]


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


def _search(client: httpx.Client, auth: dict[str, str], **params: Any) -> list[str]:
    found = client.get("/v1/patients", params=params, headers=auth)
    assert found.status_code == 200, found.text
    return [p["id"] for p in found.json()["items"]]


def _export(client: httpx.Client, path: str, auth: dict[str, str], patient_id: str) -> Any:
    exported = client.get(path, headers=auth)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/json")
    assert exported.headers["cache-control"] == "no-store"
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="patient-{patient_id}-' in disposition
    return json.loads(exported.content)


def test_export_then_anonymise_over_http(pg_server: Server) -> None:
    with pg_server.client() as client:
        auth, user_id = _owner(client)
        maria = _created(
            client.post(
                "/v1/patients",
                headers=auth,
                json={
                    "kind": "person",
                    "name": "Maria Conceição Albuquerque",
                    "social_name": "Mariazinha",
                    "sex": "female",
                    "birth_date": "1980-05-17",
                    "cpf": CPF,
                    "identifiers": [{"system": "rg", "value": RG}, {"system": "cns", "value": CNS}],
                    "phones": [PHONE],
                    "emails": [EMAIL],
                    "address": {
                        "street": "Rua das Flores",
                        "number": "42",
                        "city": "São Paulo",
                        "state": "SP",
                        "postal_code": "01001-000",
                    },
                    "allergies": [{"substance": "Dipirona", "severity": "severe"}],
                    "notes": "Prefere atendimento pela manhã",
                    "tags": ["VIP"],
                    "user_id": user_id,  # her client account: the portal reaches her record
                },
            )
        )
        pid = maria["id"]
        rex = _created(
            client.post(
                "/v1/patients",
                headers=auth,
                json={"kind": "animal", "name": "Rex", "species": "dog", "microchip": MICROCHIP},
            )
        )
        guardians = client.put(
            f"/v1/patients/{rex['id']}/guardians",
            headers=auth,
            json={"guardians": [{"guardian_id": pid, "role": "owner", "is_primary": True}]},
        )
        assert guardians.status_code == 200, guardians.text
        for kg in ("61.5", "62.25"):
            _created(client.post(f"/v1/patients/{pid}/weights", headers=auth, json={"kg": kg}))
        consent = _created(
            client.post(
                f"/v1/patients/{pid}/consents",
                headers=auth,
                json={
                    "kind": "marketing_contact",
                    "decision": "granted",
                    "version": "2026-01",
                    "evidence": "Termo assinado na recepção, pasta 12",
                },
            )
        )
        assert consent["ip"] is not None
        portal_consent = _created(
            client.post(
                f"/v1/me/patients/{pid}/consents",
                headers=auth,
                json={"kind": "data_sharing_across_units", "decision": "granted", "version": "v2"},
            )
        )
        assert portal_consent["channel"] == "portal"
        photo = _created(
            client.post(
                f"/v1/patients/{pid}/attachments",
                headers=auth,
                data={"category": "photo_before", "description": "Antes, Maria"},
                files={"file": ("maria-antes.png", samples.png(b"maria"), "image/png")},
            )
        )
        exam = _created(
            client.post(
                f"/v1/patients/{pid}/attachments",
                headers=auth,
                data={"category": "exam_result", "description": "Hemograma"},
                files={"file": ("hemograma.pdf", samples.pdf("Hemograma"), "application/pdf")},
            )
        )
        note = _created(
            client.post(
                f"/v1/patients/{pid}/notes",
                headers=auth,
                json={"type": "evolution", "body": "Retorno em 30 dias."},
            )
        )
        searches: list[dict[str, Any]] = [
            {"q": "maria conc"},
            {"q": "conceicao alb", "partial": "true"},
            {"q": "mariazinha"},
            {"cpf": CPF},
            {"phone": PHONE},
            {"q": "11987654321"},
            {"identifier": f"rg|{RG}"},
            {"identifier": f"cns|{CNS}"},
        ]
        for params in searches:
            assert pid in _search(client, auth, **params), params
        assert _search(client, auth, microchip=MICROCHIP) == [rex["id"]]

        # The export holds every field.
        document = _export(client, f"/v1/patients/{pid}/export", auth, pid)
        assert document["schema_version"] == 1
        assert document["anonymised"] is False
        assert document["generated_by"]["through"] == "staff"
        patient = document["patient"]
        assert patient["name"] == "Maria Conceição Albuquerque"
        assert patient["social_name"] == "Mariazinha"
        assert patient["cpf"] == "52998224725"
        assert patient["birth_date"] == "1980-05-17"
        assert sorted((i["system"], i["value"]) for i in patient["identifiers"]) == [("cns", CNS), ("rg", RG)]
        assert patient["phones"] == [PHONE]
        assert patient["emails"] == [EMAIL]
        assert patient["address"]["street"] == "Rua das Flores"
        assert patient["address"]["number"] == "42"
        assert patient["allergies"] == [{"substance": "Dipirona", "reaction": None, "severity": "severe"}]
        assert patient["notes"] == "Prefere atendimento pela manhã"
        assert patient["tags"] == ["vip"]
        assert patient["user_id"] == user_id
        assert patient["dependants"] == [
            {
                "patient_id": rex["id"],
                "name": "Rex",
                "role": "owner",
                "since": patient["dependants"][0]["since"],
            }
        ]
        assert sorted(w["kg"] for w in patient["weights"]) == ["61.500", "62.250"]
        consents = document["consents"]
        assert [c["kind"] for c in consents["current"]] == ["data_sharing_across_units", "marketing_contact"]
        assert consents["history"][0]["evidence"] == "Termo assinado na recepção, pasta 12"
        attachments = {a["id"]: a for a in document["attachments"]}
        assert attachments[photo["id"]]["filename"] == "maria-antes.png"
        assert attachments[exam["id"]]["content_path"] == f"/v1/attachments/{exam['id']}/content"
        fetched = client.get(attachments[exam["id"]]["content_path"], headers=auth)
        assert fetched.status_code == 200
        assert fetched.content == samples.pdf("Hemograma")
        assert [n["id"] for n in document["clinical_records"]["notes"]] == [note["id"]]
        assert document["clinical_records"]["notes"][0]["body"] == "Retorno em 30 dias."
        assert document["access_log"][0]["action"] == "export"  # the export shows itself
        assert document["access_log"][0]["user_agent"] == "e2e-privacy"
        # The dog's export names his guardian.
        dog = _export(client, f"/v1/patients/{rex['id']}/export", auth, rex["id"])
        assert dog["patient"]["guardians"][0]["guardian_id"] == pid
        assert dog["patient"]["microchip"] == MICROCHIP
        # The portal: Maria exports her own data.
        mine = _export(client, f"/v1/me/patients/{pid}/export", auth, pid)
        assert mine["generated_by"]["through"] == "portal"
        assert mine["patient"]["cpf"] == "52998224725"

        # Anonymise.
        unconfirmed = client.post(
            f"/v1/patients/{pid}/anonymise", headers=auth, json={"reason": "pedido 2026-17", "confirm": "x"}
        )
        assert unconfirmed.status_code == 422
        assert unconfirmed.json()["errors"][0]["code"] == "confirmation_required"
        done = client.post(
            f"/v1/patients/{pid}/anonymise", headers=auth, json={"reason": "pedido 2026-17", "confirm": pid}
        )
        assert done.status_code == 200, done.text
        outcome = done.json()
        assert outcome["retention_years"] == 20
        assert outcome["clinical_records_kept_until"] is not None  # the exam result
        assert outcome["counts"]["attachments.photos_erased"] == 1
        assert outcome["counts"]["clinical_records.notes_kept"] == 1
        assert outcome["counts"]["consents.withdrawn"] == 2

        identity = (
            "Conceição",
            "Albuquerque",
            "Mariazinha",
            "52998224725",
            "529.982.247-25",
            RG,
            CNS,
            "987654321",
            EMAIL,
            "Flores",
            "01001-000",
            "manhã",
            "maria-antes",
            "Antes, Maria",
            "Termo assinado",
            "1980-05-17",
        )
        record = client.get(f"/v1/patients/{pid}", headers=auth)
        assert record.status_code == 200
        after = _export(client, f"/v1/patients/{pid}/export", auth, pid)
        for text in (record.text, json.dumps(after, ensure_ascii=False)):
            for value in identity:
                assert value not in text, value
        assert record.json()["name"] == f"Paciente anonimizado {pid[:8]}"
        assert record.json()["anonymised_at"] is not None
        assert record.json()["birth_date"] == "1980-01-01"
        assert after["anonymised"] is True
        assert after["clinical_records"]["notes"][0]["body"] == "Retorno em 30 dias."  # kept, de-identified
        assert after["patient"]["allergies"][0]["substance"] == "Dipirona"  # clinical facts stay
        assert after["patient"]["guardians"] == after["patient"]["dependants"] == []
        assert all(c["decision"] == "withdrawn" for c in after["consents"]["current"])
        assert attachments[exam["id"]]["id"] in {a["id"] for a in after["attachments"]}
        erased_photo = next(a for a in after["attachments"] if a["id"] == photo["id"])
        assert erased_photo["erased_at"] is not None
        assert (erased_photo["content_path"], erased_photo["sha256"]) == (None, None)
        assert client.get(f"/v1/attachments/{photo['id']}/content", headers=auth).status_code == 404
        for params in [*searches, {"q": "paciente anonimizado", "partial": "true"}, {"tag": "vip"}]:
            assert pid not in _search(client, auth, **params), params
        assert _search(client, auth, microchip=MICROCHIP) == [rex["id"]]  # the dog is not anonymised

        # The access log is still there, with the export and the anonymisation.
        log = client.get(f"/v1/patients/{pid}/access-log", headers=auth, params={"limit": 200})
        assert log.status_code == 200, log.text
        actions = [row["action"] for row in log.json()["items"]]
        assert actions[0] == "export"  # newest first: the export after the anonymisation
        assert actions.count("export") == 3  # staff, the portal, and the one after
        assert actions.count("anonymise") == 1
        assert actions.index("anonymise") == 2  # after it, the GET and the export
        assert {"read", "search"} <= set(actions)

        # Nothing more is recorded about her, and the portal no longer reaches her.
        again = client.post(
            f"/v1/patients/{pid}/consents",
            headers=auth,
            json={"kind": "marketing_contact", "decision": "granted", "version": "2026-02"},
        )
        assert again.status_code == 409
        assert again.json()["code"] == "patient_anonymised"
        patched = client.patch(f"/v1/patients/{pid}", headers=auth, json={"version": 2, "name": "Maria"})
        assert patched.status_code == 409
        assert patched.json()["code"] == "patient_anonymised"
        assert client.get(f"/v1/me/patients/{pid}/export", headers=auth).status_code == 404
