"""The clinical record over HTTP: statuses, Location headers, problem codes, field paths, and who may do
what (the role matrix and the tenant walk cover every route; these cover behaviour)."""

from __future__ import annotations

import json
from typing import Any

from blacksheep import Content

from tests import attachment_samples as samples
from tests.api.attachments import upload
from tests.api.clinical import add_patient, created, new_note, new_template, open_patient_data
from tests.api.conftest import Api, auth_header, body_of
from tests.unit.clinical_world import habits_and_health, short_form


async def clinic(api: Api) -> tuple[str, str, str]:
    """The owner's token, a professional's token and a patient of their clinic."""
    owner, signed_up = await api.owner_token("ana@example.com", "Clínica A")
    await open_patient_data(api, owner)
    doctor, _ = await api.member_token(owner, "dra@example.com", ["professional"])
    return owner, doctor, await add_patient(api, signed_up["tenant"]["id"])


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await body_of(response)
    assert body["code"] == code, body
    return body


async def test_versions_answers_and_signing_over_http(api: Api) -> None:
    owner, doctor, patient = await clinic(api)
    made = await api.post(
        "/v1/anamnesis-templates", {"name": "Anamnese geral", "sections": habits_and_health()}, doctor
    )
    assert made.status == 201, await made.text()
    template = await body_of(made)
    assert made.get_first_header(b"Location") == f"/v1/anamnesis-templates/{template['id']}".encode()
    assert template["latest"]["number"] == 1
    smoker = template["latest"]["sections"][0]["questions"][1]
    assert smoker["visible_when"] == {
        "question": "smoker",
        "operator": "equals",
        "value": True,
        "values": None,
    }

    answered = await created(
        api,
        f"/v1/patients/{patient}/anamneses",
        {"template_id": template["id"], "answers": {"smoker": True, "conditions": ["asthma"]}},
        doctor,
    )
    assert (answered["status"], answered["version"], answered["answers"]) == (
        "draft",
        1,
        {"smoker": True, "conditions": ["asthma"]},
    )
    v2 = await api.post(
        f"/v1/anamnesis-templates/{template['id']}/versions", {"sections": short_form()}, doctor
    )
    assert v2.status == 201, await v2.text()
    assert v2.get_first_header(b"Location") == f"/v1/anamnesis-templates/{template['id']}/versions/2".encode()

    # The draft still answers version 1; signing needs the question its answers show.
    path = f"/v1/anamneses/{answered['id']}"
    body = await problem(await api.post(f"{path}/sign", {}, doctor), 422, "validation_failed")
    assert body["errors"] == [
        {
            "field": "answers.cigarettes_per_day",
            "code": "required",
            "message": "this question must be answered",
        }
    ]
    updated = await api.put(path, {"answers": {"smoker": True, "cigarettes_per_day": 5}}, doctor)
    assert updated.status == 200, await updated.text()
    signed = await body_of(await api.post(f"{path}/sign", {}, doctor))
    assert signed["status"] == "signed"
    assert signed["signed_at"] is not None
    await problem(await api.put(path, {"answers": {"smoker": False}}, doctor), 409, "record_signed")
    await problem(await api.post(f"{path}/sign", {}, doctor), 409, "record_signed")
    v1 = await body_of(await api.get(f"/v1/anamnesis-templates/{template['id']}/versions/1", doctor))
    assert v1["sections"] == template["latest"]["sections"]
    versions = await body_of(await api.get(f"/v1/anamnesis-templates/{template['id']}/versions", doctor))
    assert [(v["number"], v["questions"]) for v in versions["items"]] == [(2, 1), (1, 10)]
    listed = await body_of(await api.get(f"/v1/patients/{patient}/anamneses", doctor))
    assert [(a["id"], a["title"], a["answers"]) for a in listed["items"]] == [
        (answered["id"], "Anamnese geral", {"smoker": True, "cigarettes_per_day": 5})
    ]
    audit = await body_of(await api.get("/v1/audit-events", owner, action="anamnesis.signed"))
    assert [e["target"]["id"] for e in audit["items"]] == [answered["id"]]


async def test_bad_structures_and_answers_are_reported_by_path(api: Api) -> None:
    _, doctor, patient = await clinic(api)
    bad = habits_and_health()
    bad[1]["questions"][4]["max"] = 0
    bad[0]["questions"][2]["options"] = []
    body = await problem(
        await api.post("/v1/anamnesis-templates", {"name": "X", "sections": bad}, doctor),
        422,
        "validation_failed",
    )
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("name", "invalid_length"),
        ("sections.1.questions.4.max", "invalid_range"),
        ("sections.0.questions.2.options", "required"),
    }
    template = await new_template(api, doctor)
    body = await problem(
        await api.post(
            f"/v1/patients/{patient}/anamneses",
            {"template_id": template, "answers": {"complaint": 3, "mood": "ok"}},
            doctor,
        ),
        422,
        "validation_failed",
    )
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("answers.complaint", "invalid_type"),
        ("answers.mood", "unknown_question"),
    }
    smuggled = await api.post(
        f"/v1/patients/{patient}/anamneses", {"template_id": template, "tenant_id": "x"}, doctor
    )
    body = await problem(smuggled, 422, "validation_failed")
    assert body["errors"][0]["code"] == "extra_forbidden"
    for version in ("0", "x", "99"):
        await problem(
            await api.get(f"/v1/anamnesis-templates/{template}/versions/{version}", doctor), 404, "not_found"
        )


async def test_templates_that_cannot_be_answered(api: Api) -> None:
    _, doctor, patient = await clinic(api)
    empty = await created(api, "/v1/anamnesis-templates", {"name": "Sem perguntas"}, doctor)
    assert (empty["latest_version"], empty["latest"]) == (0, None)
    start = {"template_id": empty["id"], "answers": {}}
    await problem(
        await api.post(f"/v1/patients/{patient}/anamneses", start, doctor), 409, "template_not_published"
    )
    template = await new_template(api, doctor)
    off = await api.patch(f"/v1/anamnesis-templates/{template}", {"active": False}, doctor)
    assert (await body_of(off))["active"] is False
    start = {"template_id": template, "answers": {}}
    await problem(
        await api.post(f"/v1/patients/{patient}/anamneses", start, doctor), 409, "template_inactive"
    )
    listed = await body_of(await api.get("/v1/anamnesis-templates", doctor, active="true"))
    assert [t["id"] for t in listed["items"]] == [empty["id"]]


async def test_notes_are_signed_by_their_author_and_corrected_by_amendments(api: Api) -> None:
    owner, doctor, patient = await clinic(api)
    nurse, _ = await api.member_token(owner, "enf@example.com", ["nurse"])
    note = await new_note(api, doctor, patient, "PA 12/8.")
    await problem(await api.post(f"/v1/notes/{note}/sign", {}, nurse), 403, "not_the_author")
    signed = await api.post(f"/v1/notes/{note}/sign", {}, doctor)
    assert (await body_of(signed))["status"] == "signed"
    await problem(await api.post(f"/v1/notes/{note}/sign", {}, doctor), 409, "record_signed")

    fix = await api.post(f"/v1/notes/{note}/amendments", {"body": "Correção: PA 13/8.", "sign": True}, nurse)
    assert fix.status == 201, await fix.text()
    first = await body_of(fix)
    assert fix.get_first_header(b"Location") == f"/v1/notes/{first['id']}".encode()
    second = await created(
        api, f"/v1/notes/{first['id']}/amendments", {"body": "Mais uma.", "type": "observation"}, doctor
    )
    assert (first["amends"], first["root_id"], second["amends"], second["root_id"]) == (
        note,
        note,
        first["id"],
        note,
    )

    thread = await body_of(await api.get(f"/v1/notes/{second['id']}", doctor))
    assert (thread["id"], thread["body"]) == (note, "PA 12/8.")
    assert [(a["id"], a["type"], a["status"]) for a in thread["amendments"]] == [
        (first["id"], "evolution", "signed"),
        (second["id"], "observation", "draft"),
    ]
    listed = await body_of(await api.get(f"/v1/patients/{patient}/notes", doctor))
    assert [(n["id"], len(n["amendments"])) for n in listed["items"]] == [(note, 2)]
    timeline = await body_of(await api.get(f"/v1/patients/{patient}/timeline", doctor, kind="clinical_note"))
    assert [(e["ref_id"], e["summary"]) for e in timeline["items"]] == [
        (second["id"], "observation (amendment)"),
        (first["id"], "evolution (amendment)"),
        (note, "evolution"),
    ]
    actions = await body_of(await api.get("/v1/audit-events", owner, action="clinical_note.amended"))
    assert len(actions["items"]) == 2


async def test_the_timeline_pages_filters_and_refuses_bad_queries(api: Api) -> None:
    _, doctor, patient = await clinic(api)
    template = await new_template(api, doctor)
    for n in range(3):
        await new_note(api, doctor, patient, f"Nota {n}")
    await created(api, f"/v1/patients/{patient}/anamneses", {"template_id": template, "answers": {}}, doctor)
    first = await body_of(await api.get(f"/v1/patients/{patient}/timeline", doctor, limit="3"))
    assert [e["kind"] for e in first["items"]] == ["anamnesis", "clinical_note", "clinical_note"]
    rest = await body_of(
        await api.get(f"/v1/patients/{patient}/timeline", doctor, limit="3", cursor=first["next_cursor"])
    )
    assert [e["kind"] for e in rest["items"]] == ["clinical_note"]
    assert rest["next_cursor"] is None
    only = await body_of(
        await api.get(f"/v1/patients/{patient}/timeline", doctor, kind="anamnesis,appointment")
    )
    assert [e["kind"] for e in only["items"]] == ["anamnesis"]
    for query, field in (
        ({"cursor": "zzz"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"kind": "Bad-Kind"}, "kind"),
    ):
        body = await problem(
            await api.get(f"/v1/patients/{patient}/timeline", doctor, **query), 422, "validation_failed"
        )
        assert body["errors"][0]["field"] == field


async def test_an_api_key_reads_the_record_and_writes_nothing(api: Api) -> None:
    owner, doctor, patient = await clinic(api)
    note = await new_note(api, doctor, patient)
    issued = await created(
        api, "/v1/api-keys", {"name": "BI", "scopes": ["clinical:read", "clinical:write"]}, owner
    )
    headers = {"X-API-Key": issued["key"]}
    read = await api.client.get(f"/v1/notes/{note}", headers=headers)
    assert read.status == 200, await read.text()
    content = Content(b"application/json", json.dumps({"type": "evolution", "body": "x"}).encode())
    written = await api.client.post(f"/v1/patients/{patient}/notes", headers=headers, content=content)
    await problem(written, 403, "api_key_not_allowed")


async def test_the_front_desk_is_refused_the_record(api: Api) -> None:
    owner, _, patient = await clinic(api)
    desk, _ = await api.member_token(owner, "recepcao@example.com", ["receptionist"])
    for path in (
        f"/v1/patients/{patient}/timeline",
        f"/v1/patients/{patient}/notes",
        "/v1/anamnesis-templates",
    ):
        await problem(await api.get(path, desk), 403, "forbidden")


async def test_attachments_join_the_timeline_by_category_and_leave_it_when_deleted(api: Api) -> None:
    _, doctor, patient = await clinic(api)
    note = await new_note(api, doctor, patient)
    uploaded = await upload(api, patient, samples.pdf(), doctor, "exam_result")
    assert uploaded.status == 201, await uploaded.text()
    attachment = await body_of(uploaded)
    timeline = await body_of(await api.get(f"/v1/patients/{patient}/timeline", doctor))
    assert [(e["kind"], e["ref_id"], e["summary"]) for e in timeline["items"]] == [
        ("attachment", attachment["id"], "exam_result"),
        ("clinical_note", note, "evolution"),
    ]
    content = Content(b"application/json", json.dumps({"reason": "arquivo errado"}).encode())
    deleted = await api.client.delete(
        f"/v1/attachments/{attachment['id']}", headers=auth_header(doctor), content=content
    )
    assert deleted.status == 204, await deleted.text()
    timeline = await body_of(await api.get(f"/v1/patients/{patient}/timeline", doctor))
    assert [e["ref_id"] for e in timeline["items"]] == [note]
