"""The webhook routes in-process: register (the secret shown once), validation, change, re-enable, rotate,
deliveries newest first, redelivery, audit, and another clinic's ids answered 404."""

from __future__ import annotations

from typing import Any

from standardwebhooks import Webhook

from clinic_core.testing.webhooks import RecordingWebhookSender
from tests.api.conftest import Api, auth_header, body_of
from tests.api.webhooks import WEBHOOK, new_webhook, run_webhook_jobs


async def add_unit(api: Api, token: str, name: str) -> None:
    created = await api.post("/v1/units", {"name": name, "timezone": "America/Sao_Paulo"}, token)
    assert created.status == 201, await created.text()


async def test_a_webhook_is_registered_with_its_secret_shown_once(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    created = await api.post("/v1/webhooks", {**WEBHOOK, "description": "  ERP   da  clínica "}, owner)

    assert created.status == 201, await created.text()
    body = await body_of(created)
    assert created.headers.get_first(b"Location") == f"/v1/webhooks/{body['id']}".encode()
    assert body["secret"].startswith("whsec_")
    assert (body["status"], body["description"], body["event_types"]) == (
        "active",
        "ERP da clínica",
        ["tenancy.unit_created"],
    )
    listed = await body_of(await api.get("/v1/webhooks", owner))
    assert [w["id"] for w in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0]
    one = await body_of(await api.get(f"/v1/webhooks/{body['id']}", owner))
    assert "secret" not in one
    assert one["url"] == WEBHOOK["url"]


async def test_bad_urls_and_event_types_are_422_naming_the_field(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"url": "http://erp.example.com/hooks"}, "url", "https_required"),
        ({"url": "https://127.0.0.1/hooks"}, "url", "private_destination"),
        ({"url": "https://[::1]:8443/hooks"}, "url", "private_destination"),
        ({"url": "https://10.1.2.3/hooks"}, "url", "private_destination"),
        ({"url": "https://user:pw@erp.example.com/hooks"}, "url", "invalid_url"),
        ({"url": "not a url"}, "url", "https_required"),
        ({"event_types": ["appointment.teleported"]}, "event_types", "unknown_event_type"),
        ({"event_types": ["identity.password_reset_requested"]}, "event_types", "unknown_event_type"),
        ({"event_types": ["*"]}, "event_types", "unknown_event_type"),
        ({"event_types": []}, "event_types", "required"),
    ]
    for change, field, code in cases:
        response = await api.post("/v1/webhooks", {**WEBHOOK, **change}, owner)
        assert response.status == 422, (change, await response.text())
        problem = await body_of(response)
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)], change
    assert (await body_of(await api.get("/v1/webhooks", owner)))["items"] == []


async def test_deliveries_are_listed_newest_first_and_a_failed_one_redelivered(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    webhook = await new_webhook(api, owner)
    await add_unit(api, owner, "Unidade Jardins")
    await add_unit(api, owner, "Unidade Moema")
    sender = await run_webhook_jobs(api)

    # What was sent verifies with the secret shown at registration (Standard Webhooks' own library).
    assert len(sender.requests) == 2
    for sent in sender.requests:
        assert sent.secret == webhook["secret"]
        headers = {
            "webhook-id": str(sent.delivery_id),
            "webhook-timestamp": str(int(sent.sent_at.timestamp())),
            "webhook-signature": Webhook(str(webhook["secret"])).sign(
                str(sent.delivery_id), sent.sent_at, sent.body
            ),
        }
        assert Webhook(str(webhook["secret"])).verify(sent.body, headers)["type"] == "tenancy.unit_created"

    deliveries = f"/v1/webhooks/{webhook['id']}/deliveries"
    first = await body_of(await api.get(f"{deliveries}?limit=1", owner))
    second = await body_of(await api.get(f"{deliveries}?limit=1&cursor={first['next_cursor']}", owner))
    assert second["next_cursor"] is None
    newest, oldest = first["items"][0], second["items"][0]
    assert newest["id"] > oldest["id"]
    assert [d["id"] for d in (oldest, newest)] == [str(r.delivery_id) for r in sender.requests]
    assert (newest["status"], newest["attempts"], newest["response_status"]) == ("succeeded", 1, 204)
    assert (await api.get(f"{deliveries}?cursor=!!", owner)).status == 422

    redeliver = f"{deliveries}/{oldest['id']}/redeliver"
    again = await api.post(redeliver, {}, owner)
    assert again.status == 202, await again.text()
    assert ((await body_of(again))["status"], (await body_of(again))["attempts"]) == ("pending", 0)
    pending = await api.post(redeliver, {}, owner)
    assert (pending.status, (await body_of(pending))["code"]) == (409, "delivery_pending")
    resent = await run_webhook_jobs(api, RecordingWebhookSender(status=500))
    # The same delivery id and body as the first time (a receiver may drop it as a repeat).
    assert [(str(r.delivery_id), r.body) for r in resent.requests] == [
        (oldest["id"], sender.requests[0].body)
    ]


async def test_patch_disables_and_reenables_with_a_clean_slate(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    webhook = await new_webhook(api, owner)
    path = f"/v1/webhooks/{webhook['id']}"

    disabled = await body_of(await api.patch(path, {"status": "disabled"}, owner))
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "by_user")
    await add_unit(api, owner, "Unidade Jardins")
    assert (await run_webhook_jobs(api)).requests == [], "a disabled endpoint is sent nothing"

    changed = await api.patch(
        path,
        {
            "status": "active",
            "event_types": ["appointment.created", "patient.created"],
            "url": WEBHOOK["url"] + "/v2",
        },
        owner,
    )
    assert changed.status == 200, await changed.text()
    body = await body_of(changed)
    assert (body["status"], body["disabled_at"], body["consecutive_failures"]) == ("active", None, 0)
    assert body["event_types"] == ["appointment.created", "patient.created"]
    assert body["url"].endswith("/v2")
    assert body["version"] > webhook["version"]
    refused = await api.patch(path, {"url": "http://erp.example.com"}, owner)
    assert refused.status == 422

    rotated = await api.post(f"{path}/rotate-secret", {}, owner)
    assert rotated.status == 200
    assert (await body_of(rotated))["secret"] not in (webhook["secret"], None)

    actions = [
        e["action"]
        for e in (await body_of(await api.get("/v1/audit-events", owner)))["items"]
        if e["action"].startswith("webhook.")
    ]
    assert sorted(actions) == [
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.updated",
        "webhook.updated",
    ]

    assert (await api.client.delete(path, headers=auth_header(owner))).status == 204
    assert (await api.get(path, owner)).status == 404


async def test_another_clinics_webhooks_are_404_and_its_events_never_sent_here(api: Api) -> None:
    a_owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    b_owner, _ = await api.owner_token("bia@example.com", "Clínica B")
    a_hook = await new_webhook(api, a_owner)
    b_hook = await new_webhook(api, b_owner)

    path = f"/v1/webhooks/{a_hook['id']}"
    for response in [
        await api.get(path, b_owner),
        await api.patch(path, {"status": "disabled"}, b_owner),
        await api.post(f"{path}/rotate-secret", {}, b_owner),
        await api.get(f"{path}/deliveries", b_owner),
        await api.client.delete(path, headers=auth_header(b_owner)),
    ]:
        assert response.status == 404, await response.text()
    assert [w["id"] for w in (await body_of(await api.get("/v1/webhooks", b_owner)))["items"]] == [
        b_hook["id"]
    ]

    await add_unit(api, a_owner, "Unidade Jardins")
    sent = await run_webhook_jobs(api)
    assert [r.secret for r in sent.requests] == [a_hook["secret"]]
    assert (await api.get(f"{path}/deliveries", a_owner)).status == 200
