from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo

from clinic_api.access import requires
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, invalid_fields, problem_for, unwrap_or_raise
from clinic_api.record_schemas import (
    CreateTemplateRequest,
    PublishVersionRequest,
    TemplateDetailOut,
    TemplateOut,
    TemplatePage,
    TemplateVersionList,
    TemplateVersionOut,
    TemplateVersionSummary,
    UpdateTemplateRequest,
)
from clinic_api.record_services import ClinicalRecordServices
from clinic_api.responses import json_response, request_context
from clinic_api.routing import get, patch, post
from clinic_core.application.actor import Actor
from clinic_core.clinical.model import TemplateId
from clinic_core.clinical.ports import TemplateFilter
from clinic_core.clinical.templates import (
    CreateTemplateCommand,
    PublishVersionCommand,
    UpdateTemplateCommand,
)
from clinic_core.shared.errors import FieldError, NotFound
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.permissions import Permission


def template_id_of(raw: str) -> TemplateId:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound("anamnesis template")))
    return TemplateId(parsed)


def _filter(
    active: QueryParam[bool] | None, species: QueryParam[str] | None, procedure_id: QueryParam[str] | None
) -> TemplateFilter:
    procedure = None
    if procedure_id is not None and procedure_id.value:
        procedure = parse_uuid(procedure_id.value)
        if procedure is None:
            raise ProblemRaised(
                invalid_fields([FieldError("procedure_id", "invalid_value", "expected a UUID")])
            )
    return TemplateFilter(
        active=active.value if active is not None else None,
        species=species.value.strip().lower() if species is not None and species.value else None,
        procedure_id=procedure,
    )


class AnamnesisTemplates(APIController):
    def __init__(self, records: ClinicalRecordServices) -> None:
        self._records = records

    @classmethod
    def route(cls) -> str:
        return "/v1/anamnesis-templates"

    @requires(Permission.CLINICAL_READ)
    @documented(200, TemplatePage, problems=(401, 403, 422))
    @get("/")
    async def list_templates(
        self,
        actor: Actor,
        active: QueryParam[bool] | None = None,
        species: QueryParam[str] | None = None,
        procedure_id: QueryParam[str] | None = None,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """The clinic's anamnesis templates, oldest first.

        @param active: only active (`true`) or inactive (`false`) templates.
        @param species: only templates for this species, or for any species.
        @param procedure_id: only templates for this procedure, or for any procedure.
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        page = unwrap_or_raise(
            await self._records.list_templates(
                actor, page_request(cursor, limit), _filter(active, species, procedure_id)
            )
        )
        return json_response(
            TemplatePage(items=[TemplateOut.of(t) for t in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(
        201,
        TemplateDetailOut,
        problems=(401, 403, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new template.")},
    )
    @post("/")
    async def create_template(self, actor: Actor, request: Request, body: CreateTemplateRequest) -> Response:
        """Create a template; with `sections`, its version 1 is published at once (audited)."""
        detail = unwrap_or_raise(
            await self._records.create_template(
                CreateTemplateCommand(
                    actor=actor,
                    name=body.name,
                    procedure_ids=frozenset(body.procedure_ids),
                    species=frozenset(body.species),
                    sections=body.sections,
                    context=request_context(request),
                )
            )
        )
        return json_response(
            TemplateDetailOut.of_detail(detail),
            201,
            [("Location", f"/v1/anamnesis-templates/{detail.template.id}")],
        )

    @requires(Permission.CLINICAL_READ)
    @documented(200, TemplateDetailOut, problems=(401, 403, 404))
    @get("/{template_id}")
    async def get_template(self, actor: Actor, template_id: str) -> Response:
        """One template with its newest version's questions.

        @param template_id: the template's id (a UUID).
        """
        detail = unwrap_or_raise(await self._records.get_template(actor, template_id_of(template_id)))
        return json_response(TemplateDetailOut.of_detail(detail))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(200, TemplateDetailOut, problems=(401, 403, 404, 422))
    @patch("/{template_id}")
    async def update_template(self, actor: Actor, template_id: str, body: UpdateTemplateRequest) -> Response:
        """Rename a template, change where it applies, or deactivate it. Its questions change only by
        publishing a new version.

        @param template_id: the template's id (a UUID).
        """
        detail = unwrap_or_raise(
            await self._records.update_template(
                UpdateTemplateCommand(
                    actor=actor,
                    template_id=template_id_of(template_id),
                    name=body.name,
                    procedure_ids=frozenset(body.procedure_ids) if body.procedure_ids is not None else None,
                    species=frozenset(body.species) if body.species is not None else None,
                    active=body.active,
                )
            )
        )
        return json_response(TemplateDetailOut.of_detail(detail))

    @requires(Permission.CLINICAL_READ)
    @documented(200, TemplateVersionList, problems=(401, 403, 404))
    @get("/{template_id}/versions")
    async def list_versions(self, actor: Actor, template_id: str) -> Response:
        """Every published version of a template, newest first.

        @param template_id: the template's id (a UUID).
        """
        versions = unwrap_or_raise(
            await self._records.list_template_versions(actor, template_id_of(template_id))
        )
        return json_response(TemplateVersionList(items=[TemplateVersionSummary.of(v) for v in versions]))

    @requires(Permission.CLINICAL_WRITE, people_only=True)
    @documented(
        201,
        TemplateVersionOut,
        problems=(401, 403, 404, 409, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new version.")},
    )
    @post("/{template_id}/versions")
    async def publish_version(
        self, actor: Actor, request: Request, template_id: str, body: PublishVersionRequest
    ) -> Response:
        """Publish the template's next version (audited). Earlier versions, and the answers given to
        them, never change. 409 `version_conflict` when another version was published at the same time.

        @param template_id: the template's id (a UUID).
        """
        version = unwrap_or_raise(
            await self._records.publish_template_version(
                PublishVersionCommand(
                    actor=actor,
                    template_id=template_id_of(template_id),
                    sections=body.sections,
                    context=request_context(request),
                )
            )
        )
        return json_response(
            TemplateVersionOut.of(version),
            201,
            [("Location", f"/v1/anamnesis-templates/{version.template_id}/versions/{version.number}")],
        )

    @requires(Permission.CLINICAL_READ)
    @documented(200, TemplateVersionOut, problems=(401, 403, 404))
    @get("/{template_id}/versions/{number}")
    async def get_version(self, actor: Actor, template_id: str, number: str) -> Response:
        """One published version, with its questions exactly as they were asked.

        @param template_id: the template's id (a UUID).
        @param number: the version's number (1, 2...).
        """
        parsed = template_id_of(template_id)
        if not number.isdigit() or not 1 <= int(number) <= 1_000_000:
            raise ProblemRaised(problem_for(NotFound("anamnesis template version")))
        version = unwrap_or_raise(await self._records.get_template_version(actor, parsed, int(number)))
        return json_response(TemplateVersionOut.of(version))
