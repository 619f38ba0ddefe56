"""FHIR R4 in: a streaming reader of NDJSON bulk files and bundles, mapped to ``clinic_core.interop``."""
