"""Reading FHIR R4 files, one record at a time, each with where it came from.

- NDJSON (``*.ndjson``, FHIR Bulk Data): read line by line, never whole; each line is one resource. A bulk
  file holds one resource type, so a line of another type than the file's first is an error.
- JSON (``*.json``): a Bundle (``Bundle.entry[].resource``; in a transaction bundle the entries refer to
  one another by their ``fullUrl``, ``urn:uuid:...``) or a single resource. A bundle is one JSON document and
  is read whole; its Practitioners come out before its Patients, so that a patient can link to them.

Every record comes out as ``ReadResource`` (a Patient or Practitioner), ``NotImported`` (another type),
or ``ReadError`` with its line or entry and the reason; a file that holds no FHIR resources at all (a bulk
export's ``log.ndjson``) comes out once as ``FileNotRead``. Nothing raises for bad input: a file that cannot
be opened is a ``ReadError`` too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clinic_core.interop.source import (
    FileNotRead,
    NotImported,
    ReadError,
    ReadResource,
    SourceItem,
    SourceLocation,
)
from clinic_infra.fhir import mapping, models

SUFFIXES = (".ndjson", ".json")
IMPORTED_TYPES = ("Practitioner", "Patient")
"""In the order a file set is read: a patient's practitioners exist before the patient comes."""


def describe(error: ValidationError) -> str:
    """A pydantic error as FHIRPath-like locations and messages (``name[0].given: Input should be...``)."""
    parts: list[str] = []
    for detail in error.errors(include_url=False)[:3]:
        path = ""
        for step in detail["loc"]:
            path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
        parts.append(f"{path}: {detail['msg']}" if path else detail["msg"])
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _read(
    resource: dict[str, Any],
    location: SourceLocation,
    *,
    stable_id: bool,
    raw: str | None = None,
    full_url: str | None = None,
    bundle_npis: Mapping[str, str | None] | None = None,
) -> SourceItem:
    """One resource whose ``resourceType`` is known to be a string."""
    resource_type: str = resource["resourceType"]
    try:
        if resource_type == "Patient":
            patient = models.Patient.model_validate(resource)
            return ReadResource(
                location, mapping.patient(patient, stable_id=stable_id, bundle_npis=bundle_npis)
            )
        if resource_type == "Practitioner":
            practitioner = models.Practitioner.model_validate(resource)
            text = raw if raw is not None else json.dumps(resource, ensure_ascii=False)
            return ReadResource(
                location,
                mapping.practitioner(practitioner, stable_id=stable_id, raw=text, full_url=full_url),
            )
    except ValidationError as invalid:
        return ReadError(location, f"invalid {resource_type}: {describe(invalid)}", resource_type)
    except mapping.Unmappable as unmappable:
        return ReadError(location, f"invalid {resource_type}: {unmappable}", resource_type)
    return NotImported(location, resource_type)


class FhirFiles:
    """The FHIR files under a path (a file, or a directory read recursively), in a stable order."""

    def __init__(self, path: Path) -> None:
        self.root = path

    def files(self) -> list[Path]:
        if self.root.is_file():
            return [self.root]
        found = [p for p in self.root.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)]
        # Bulk files are named for their type (``Practitioner.000.ndjson``): practitioners first.
        return sorted(found, key=lambda p: (not p.name.startswith("Practitioner."), str(p)))

    def _name(self, path: Path) -> str:
        return path.name if path == self.root else str(path.relative_to(self.root))

    def count(self) -> int:
        """How many records ``__iter__`` will yield, about (for a progress bar): NDJSON lines, bundle entries."""
        total = 0
        for path in self.files():
            try:
                if path.name.endswith(".ndjson"):
                    with path.open("rb") as lines:
                        total += sum(1 for line in lines if line.strip())
                else:
                    document = json.loads(path.read_bytes())
                    entries = document.get("entry") if isinstance(document, dict) else None
                    total += len(entries) if isinstance(entries, list) else 1
            except (OSError, ValueError):
                total += 1
        return total

    def __iter__(self) -> Iterator[SourceItem]:
        for path in self.files():
            if path.name.endswith(".ndjson"):
                yield from self.ndjson(path)
            else:
                yield from self.document(path)

    def ndjson(self, path: Path) -> Iterator[SourceItem]:
        name = self._name(path)
        file_type: str | None = None
        try:
            lines = path.open("rb")
        except OSError as unreadable:
            yield ReadError(SourceLocation(name), f"cannot open the file: {unreadable.strerror}")
            return
        with lines:
            seen_record = False
            for number, raw_line in enumerate(lines, start=1):
                location = SourceLocation(name, line=number)
                stripped = raw_line.strip()
                if number == 1:
                    stripped = stripped.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
                if not stripped:
                    continue
                first, seen_record = not seen_record, True
                try:
                    text = stripped.decode("utf-8")
                    resource = json.loads(text)
                except UnicodeDecodeError as undecodable:
                    yield ReadError(
                        location, f"not UTF-8 text: {undecodable.reason} at byte {undecodable.start}"
                    )
                    continue
                except json.JSONDecodeError as malformed:
                    yield ReadError(location, f"malformed JSON: {malformed.msg} at column {malformed.colno}")
                    continue
                resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
                if not isinstance(resource, dict):
                    yield ReadError(location, "not a JSON object: each NDJSON line must be one FHIR resource")
                elif not isinstance(resource_type, str) or not resource_type:
                    if first:
                        yield FileNotRead(
                            SourceLocation(name),
                            "its first line is not a FHIR resource (no resourceType): not FHIR NDJSON",
                        )
                        return
                    yield ReadError(location, "not a FHIR resource: no resourceType")
                elif file_type is not None and resource_type != file_type:
                    yield ReadError(
                        location,
                        f"a {resource_type} in a file of {file_type} resources"
                        " (a bulk data file holds one resource type)",
                        resource_type,
                    )
                else:
                    file_type = file_type or resource_type
                    yield _read(resource, location, stable_id=True, raw=text)

    def document(self, path: Path) -> Iterator[SourceItem]:
        name = self._name(path)
        try:
            document = json.loads(path.read_bytes())
        except OSError as unreadable:
            yield ReadError(SourceLocation(name), f"cannot read the file: {unreadable.strerror}")
            return
        except UnicodeDecodeError as undecodable:
            yield ReadError(SourceLocation(name), f"not UTF-8 text: {undecodable.reason}")
            return
        except json.JSONDecodeError as malformed:
            yield ReadError(
                SourceLocation(name),
                f"malformed JSON: {malformed.msg} at line {malformed.lineno} column {malformed.colno}",
            )
            return
        resource_type = document.get("resourceType") if isinstance(document, dict) else None
        if not isinstance(resource_type, str) or not resource_type:
            yield FileNotRead(SourceLocation(name), "not a FHIR resource (no resourceType)")
        elif resource_type == "Bundle":
            yield from self.bundle(name, document)
        else:
            yield _read(document, SourceLocation(name), stable_id=True)

    def bundle(self, name: str, bundle: dict[str, Any]) -> Iterator[SourceItem]:
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            yield ReadError(SourceLocation(name), "Bundle.entry is not a list", "Bundle")
            return
        resources: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for index, entry in enumerate(entries):
            location = SourceLocation(name, entry=index)
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(entry, dict):
                yield ReadError(location, "the entry is not a JSON object")
            elif resource is None:
                request = entry.get("request")
                what = (
                    f" (request {request.get('method')} {request.get('url')})"
                    if isinstance(request, dict)
                    else ""
                )
                yield ReadError(location, f"the entry has no resource{what}")
            elif not isinstance(resource, dict):
                yield ReadError(location, "the entry's resource is not a JSON object")
            elif not isinstance(resource.get("resourceType"), str) or not resource["resourceType"]:
                yield ReadError(location, "the entry's resource has no resourceType")
            else:
                resources.append((index, entry, resource))
        npis = {
            entry["fullUrl"]: mapping.npi_of(resource)
            for _, entry, resource in resources
            if resource["resourceType"] == "Practitioner" and isinstance(entry.get("fullUrl"), str)
        }
        order = {resource_type: rank for rank, resource_type in enumerate(IMPORTED_TYPES)}
        for index, entry, resource in sorted(
            resources, key=lambda r: (order.get(r[2]["resourceType"], len(order)), r[0])
        ):
            full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
            request = entry.get("request")
            posted = isinstance(request, dict) and request.get("method") == "POST"
            # A transaction's POST gets its id from the server that receives it; a urn:uuid: fullUrl only
            # ties the bundle's entries together. Neither names the resource anywhere else.
            stable = not posted and not (full_url or "").startswith("urn:")
            yield _read(
                resource,
                SourceLocation(name, entry=index),
                stable_id=stable,
                full_url=full_url,
                bundle_npis=npis,
            )
