"""Questionnaires the clinical unit tests share."""

from __future__ import annotations

from typing import Any


def label(pt_br: str, en: str | None = None) -> dict[str, Any]:
    return {"pt_br": pt_br, "en": en}


def option(value: str, pt_br: str) -> dict[str, Any]:
    return {"value": value, "label": label(pt_br)}


def habits_and_health() -> list[dict[str, Any]]:
    """Two sections with every question type and conditions on yes/no and multiple choice answers."""
    return [
        {
            "title": label("Hábitos", "Habits"),
            "questions": [
                {
                    "key": "smoker",
                    "type": "yes_no",
                    "label": label("Fuma?", "Do you smoke?"),
                    "required": True,
                },
                {
                    "key": "cigarettes_per_day",
                    "type": "number",
                    "label": label("Cigarros por dia"),
                    "unit": "cigarros",
                    "min": 1,
                    "max": 200,
                    "required": True,
                    "visible_when": {"question": "smoker", "operator": "equals", "value": True},
                },
                {
                    "key": "alcohol",
                    "type": "single_choice",
                    "label": label("Consumo de álcool"),
                    "options": [
                        option("never", "Nunca"),
                        option("social", "Social"),
                        option("daily", "Diário"),
                    ],
                },
            ],
        },
        {
            "title": label("Saúde"),
            "questions": [
                {
                    "key": "conditions",
                    "type": "multiple_choice",
                    "label": label("Condições"),
                    "options": [
                        option("diabetes", "Diabetes"),
                        option("hypertension", "Hipertensão"),
                        option("asthma", "Asma"),
                    ],
                },
                {
                    "key": "diabetes_type",
                    "type": "single_choice",
                    "label": label("Tipo de diabetes"),
                    "required": True,
                    "options": [option("type1", "Tipo 1"), option("type2", "Tipo 2")],
                    "visible_when": {"question": "conditions", "operator": "equals", "value": "diabetes"},
                },
                {
                    "key": "insulin",
                    "type": "yes_no",
                    "label": label("Usa insulina?"),
                    "required": True,
                    "visible_when": {
                        "question": "diabetes_type",
                        "operator": "in",
                        "values": ["type1", "type2"],
                    },
                },
                {"key": "last_exam", "type": "date", "label": label("Último exame")},
                {
                    "key": "pain",
                    "type": "scale",
                    "label": label("Dor"),
                    "min": 0,
                    "max": 10,
                    "labels": [
                        {"value": 0, "label": label("Sem dor")},
                        {"value": 10, "label": label("Pior dor")},
                    ],
                },
                {
                    "key": "weight",
                    "type": "number",
                    "label": label("Peso"),
                    "unit": "kg",
                    "min": 0.5,
                    "max": 500,
                },
                {"key": "remarks", "type": "text", "label": label("Observações"), "help": label("Livre")},
            ],
        },
    ]


def short_form(question_label: str = "Queixa principal") -> list[dict[str, Any]]:
    return [
        {
            "title": label("Queixa"),
            "questions": [
                {"key": "complaint", "type": "text", "label": label(question_label), "required": True}
            ],
        }
    ]
