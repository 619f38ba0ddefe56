"""What a source of records yields, one item per record, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.interop.imported import ImportedPatient, ImportedPractitioner


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A record's place: a file, and its line (NDJSON, from 1) or its entry index (``Bundle.entry[i]``,
    from 0, as FHIRPath counts)."""

    file: str
    line: int | None = None
    entry: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file} line {self.line}"
        if self.entry is not None:
            return f"{self.file} entry[{self.entry}]"
        return self.file


@dataclass(frozen=True, slots=True)
class ReadResource:
    location: SourceLocation
    resource: ImportedPatient | ImportedPractitioner


@dataclass(frozen=True, slots=True)
class ReadError:
    """A record that could not be read (malformed JSON, a required element missing, a wrong type): nothing
    of it is imported."""

    location: SourceLocation
    reason: str
    resource_type: str | None = None


@dataclass(frozen=True, slots=True)
class NotImported:
    """A well-formed record of a type this import does not take (Observation, Organization...)."""

    location: SourceLocation
    resource_type: str


@dataclass(frozen=True, slots=True)
class FileNotRead:
    """A file that holds no FHIR resources (a bulk export's ``log.ndjson``), left aside whole."""

    location: SourceLocation
    reason: str


SourceItem = ReadResource | ReadError | NotImported | FileNotRead
