"""Interoperability: data brought in from other systems (FHIR R4), as plain values and the use cases that
take it in."""
