"""The clinical record: anamnesis questionnaires and responses, clinical notes, the patient timeline."""
