"""Anamnesis questionnaires: the structure a version may have, and answers checked against it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from returns.result import Failure, Success

from clinic_core.clinical.questionnaires import (
    ConditionOperator,
    Questionnaire,
    QuestionType,
    answers_as_json,
    answers_from_json,
    parse_questionnaire,
    questionnaire_from_json,
    validate_answers,
)
from clinic_core.shared.errors import InvalidInput
from tests.unit.clinical_world import habits_and_health, label, option, short_form


def parsed(raw: object) -> Questionnaire:
    result = parse_questionnaire(raw)
    assert isinstance(result, Success), result
    questionnaire: Questionnaire = result.unwrap()
    return questionnaire


def errors_of(result: object) -> dict[str, str]:
    assert isinstance(result, Failure), result
    failure = result.failure()
    assert isinstance(failure, InvalidInput)
    return {e.field: e.code for e in failure.errors}


FORM = parsed(habits_and_health())


# --- structure ----------------------------------------------------------------------------------------------


def test_a_valid_questionnaire_keeps_its_order_types_and_conditions() -> None:
    assert [q.key for q in FORM.questions] == [
        "smoker",
        "cigarettes_per_day",
        "alcohol",
        "conditions",
        "diabetes_type",
        "insulin",
        "last_exam",
        "pain",
        "weight",
        "remarks",
    ]
    cigarettes = FORM.question("cigarettes_per_day")
    assert cigarettes is not None
    assert cigarettes.type is QuestionType.NUMBER
    assert (cigarettes.unit, cigarettes.minimum, cigarettes.maximum) == ("cigarros", 1, 200)
    assert cigarettes.visible_when is not None
    assert cigarettes.visible_when.operator is ConditionOperator.EQUALS
    assert cigarettes.visible_when.values == (True,)
    pain = FORM.question("pain")
    assert pain is not None
    assert [s.value for s in pain.scale_labels] == [0, 10]
    assert FORM.sections[0].title.en == "Habits"


def test_the_json_form_reads_back_to_the_same_questionnaire() -> None:
    assert questionnaire_from_json(FORM.as_json()) == FORM
    assert questionnaire_from_json(copy.deepcopy(FORM.as_json())).as_json() == FORM.as_json()


def test_keys_must_be_unique_across_sections() -> None:
    raw = habits_and_health()
    raw[1]["questions"][0]["key"] = "smoker"
    assert errors_of(parse_questionnaire(raw))["sections.1.questions.0.key"] == "duplicate"


def test_a_condition_must_name_an_earlier_question() -> None:
    raw = habits_and_health()
    # A later question...
    raw[0]["questions"][1]["visible_when"] = {"question": "pain", "operator": "equals", "value": 3}
    # ...and itself.
    raw[1]["questions"][3]["visible_when"] = {"question": "last_exam", "operator": "equals", "value": "x"}
    raw[1]["questions"][4]["visible_when"] = {"question": "alcohol", "operator": "equals", "value": "x"}
    errors = errors_of(parse_questionnaire(raw))
    assert errors["sections.0.questions.1.visible_when.question"] == "unknown_question"
    assert errors["sections.1.questions.3.visible_when.question"] == "unknown_question"
    # alcohol is earlier than pain: the question is found, but "x" is none of its options
    assert errors["sections.1.questions.4.visible_when.value"] == "invalid_value"


@pytest.mark.parametrize(
    ("condition", "field", "code"),
    [
        ({"question": "alcohol", "operator": "equals", "value": "wine"}, "value", "invalid_value"),
        ({"question": "smoker", "operator": "equals", "value": 1}, "value", "invalid_value"),
        ({"question": "smoker", "operator": "in", "values": []}, "values", "required"),
        ({"question": "smoker", "operator": "equals"}, "value", "required"),
        ({"question": "smoker", "operator": "greater", "value": True}, "operator", "invalid_operator"),
        (
            {"question": "smoker", "operator": "equals", "value": True, "values": [True]},
            "values",
            "unknown_field",
        ),
    ],
)
def test_a_condition_tests_a_value_the_question_can_have(
    condition: dict[str, Any], field: str, code: str
) -> None:
    raw = habits_and_health()
    raw[1]["questions"][0]["visible_when"] = condition
    assert errors_of(parse_questionnaire(raw))[f"sections.1.questions.0.visible_when.{field}"] == code


def test_choice_questions_need_unique_options() -> None:
    raw = habits_and_health()
    raw[0]["questions"][2]["options"] = []
    raw[1]["questions"][0]["options"] = [
        option("a", "A"),
        option("a", "Outro A"),
        {"value": "Bad Value", "label": label("x")},
    ]
    errors = errors_of(parse_questionnaire(raw))
    assert errors["sections.0.questions.2.options"] == "required"
    assert errors["sections.1.questions.0.options.1.value"] == "duplicate"
    assert errors["sections.1.questions.0.options.2.value"] == "invalid_key"


@pytest.mark.parametrize(
    ("bounds", "field", "code"),
    [
        ({"min": 5, "max": 5}, "max", "invalid_range"),
        ({"min": 5, "max": 1}, "max", "invalid_range"),
        ({"min": 0.5, "max": 10}, "min", "invalid_type"),
        ({"min": 0}, "max", "required"),
        ({"min": 0, "max": 1000}, "max", "invalid_range"),
        ({"min": True, "max": 10}, "min", "invalid_type"),
    ],
)
def test_a_scale_needs_whole_ordered_bounds(bounds: dict[str, Any], field: str, code: str) -> None:
    raw = habits_and_health()
    pain = raw[1]["questions"][4]
    pain.pop("min"), pain.pop("max"), pain.pop("labels")
    pain.update(bounds)
    assert errors_of(parse_questionnaire(raw))[f"sections.1.questions.4.{field}"] == code


def test_scale_labels_must_be_points_of_the_scale() -> None:
    raw = habits_and_health()
    raw[1]["questions"][4]["labels"] = [
        {"value": 11, "label": label("x")},
        {"value": 0, "label": label("a")},
        {"value": 0, "label": label("b")},
    ]
    errors = errors_of(parse_questionnaire(raw))
    assert errors["sections.1.questions.4.labels.0.value"] == "out_of_range"
    assert errors["sections.1.questions.4.labels.2.value"] == "duplicate"


def test_number_bounds_in_order_and_fields_only_for_their_type() -> None:
    raw = habits_and_health()
    raw[1]["questions"][5].update({"min": 10, "max": 1})
    raw[1]["questions"][6]["options"] = [option("a", "A")]
    raw[0]["questions"][0]["unit"] = "kg"
    raw[0]["questions"][0]["colour"] = "red"
    errors = errors_of(parse_questionnaire(raw))
    assert errors["sections.1.questions.5.max"] == "invalid_range"
    assert errors["sections.1.questions.6.options"] == "not_for_type"
    assert errors["sections.0.questions.0.unit"] == "not_for_type"
    assert errors["sections.0.questions.0.colour"] == "unknown_field"


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ([], "sections", "required"),
        ("not a list", "sections", "required"),
        ([{"title": label("S"), "questions": []}], "sections.0.questions", "required"),
        (
            [{"questions": [{"key": "a", "type": "text", "label": label("A")}]}],
            "sections.0.title",
            "required",
        ),
        (
            [{"title": label("S"), "questions": [{"key": "a", "type": "essay", "label": label("A")}]}],
            "sections.0.questions.0.type",
            "invalid_type",
        ),
        (
            [{"title": label("S"), "questions": [{"key": "1a", "type": "text", "label": label("A")}]}],
            "sections.0.questions.0.key",
            "invalid_key",
        ),
        (
            [{"title": label("S"), "questions": [{"key": "a", "type": "text", "label": {"en": "A"}}]}],
            "sections.0.questions.0.label.pt_br",
            "required",
        ),
        (
            [{"title": label("S"), "questions": [{"key": "a", "type": "text", "label": label("A\u202e")}]}],
            "sections.0.questions.0.label.pt_br",
            "invalid_characters",
        ),
        (
            [
                {
                    "title": label("S"),
                    "questions": [{"key": "a", "type": "text", "label": label("A"), "required": "yes"}],
                }
            ],
            "sections.0.questions.0.required",
            "invalid_type",
        ),
    ],
)
def test_malformed_structures_are_reported_against_their_field(raw: object, field: str, code: str) -> None:
    assert errors_of(parse_questionnaire(raw))[field] == code


def test_every_problem_is_reported_at_once() -> None:
    raw = habits_and_health()
    raw[0]["questions"][0]["key"] = "Smoker"
    raw[1]["questions"][4]["max"] = -1
    assert len(errors_of(parse_questionnaire(raw))) >= 3  # the key, the scale, the condition on smoker


def test_sizes_are_bounded() -> None:
    many = [{"key": f"q{i}", "type": "text", "label": label("Q")} for i in range(301)]
    assert (
        errors_of(parse_questionnaire([{"title": label("S"), "questions": many}]))["sections"] == "too_many"
    )


# --- answers ------------------------------------------------------------------------------------------------


def test_complete_answers_are_stored_normalised() -> None:
    answers = validate_answers(
        FORM,
        {
            "smoker": True,
            "cigarettes_per_day": 10,
            "alcohol": "social",
            "conditions": ["hypertension", "diabetes"],
            "diabetes_type": "type2",
            "insulin": False,
            "last_exam": "2025-11-30",
            "pain": 3.0,
            "weight": 72.5,
            "remarks": "  Dorme mal.\nAcorda cedo.  ",
        },
        complete=True,
    )
    assert answers == Success(
        {
            "smoker": True,
            "cigarettes_per_day": 10,
            "alcohol": "social",
            "conditions": ("diabetes", "hypertension"),  # in the order of the options
            "diabetes_type": "type2",
            "insulin": False,
            "last_exam": "2025-11-30",
            "pain": 3,
            "weight": 72.5,
            "remarks": "Dorme mal.\nAcorda cedo.",
        }
    )
    stored = answers.unwrap()
    assert answers_from_json(answers_as_json(stored)) == stored


def test_a_required_question_shown_must_be_answered_to_complete() -> None:
    errors = errors_of(validate_answers(FORM, {"smoker": True}, complete=True))
    assert errors == {"answers.cigarettes_per_day": "required"}
    # A draft may leave it for later.
    assert validate_answers(FORM, {"smoker": True}, complete=False) == Success({"smoker": True})


def test_a_required_question_not_shown_needs_no_answer() -> None:
    assert validate_answers(FORM, {"smoker": False}, complete=True) == Success({"smoker": False})


def test_an_answer_to_a_question_not_shown_is_refused() -> None:
    errors = errors_of(validate_answers(FORM, {"smoker": False, "cigarettes_per_day": 5}, complete=False))
    assert errors == {"answers.cigarettes_per_day": "not_applicable"}


def test_conditions_chain_a_question_hidden_hides_those_that_depend_on_it() -> None:
    # No diabetes: diabetes_type is hidden, so insulin (conditioned on it) is too, whatever it says.
    answers = {"smoker": False, "conditions": ["asthma"]}
    assert validate_answers(FORM, answers, complete=True) == Success(
        {"smoker": False, "conditions": ("asthma",)}
    )
    errors = errors_of(validate_answers(FORM, answers | {"insulin": True}, complete=True))
    assert errors == {"answers.insulin": "not_applicable"}
    # Diabetes: both are asked, and required.
    errors = errors_of(validate_answers(FORM, {"smoker": False, "conditions": ["diabetes"]}, complete=True))
    assert errors == {"answers.diabetes_type": "required"}
    errors = errors_of(
        validate_answers(
            FORM, {"smoker": False, "conditions": ["diabetes"], "diabetes_type": "type1"}, complete=True
        )
    )
    assert errors == {"answers.insulin": "required"}


def test_not_equals_holds_only_on_an_answer() -> None:
    form = parsed(
        [
            {
                "title": label("S"),
                "questions": [
                    {"key": "pregnant", "type": "yes_no", "label": label("Gestante?")},
                    {
                        "key": "why_not",
                        "type": "text",
                        "label": label("Por quê?"),
                        "required": True,
                        "visible_when": {"question": "pregnant", "operator": "not_equals", "value": True},
                    },
                ],
            }
        ]
    )
    assert validate_answers(form, {}, complete=True) == Success({})
    assert errors_of(validate_answers(form, {"pregnant": False}, complete=True)) == {
        "answers.why_not": "required"
    }
    assert errors_of(validate_answers(form, {"pregnant": True, "why_not": "x"}, complete=True)) == {
        "answers.why_not": "not_applicable"
    }


def test_a_condition_on_a_number_does_not_confuse_booleans_with_numbers() -> None:
    form = parsed(
        [
            {
                "title": label("S"),
                "questions": [
                    {"key": "children", "type": "number", "label": label("Filhos")},
                    {
                        "key": "only_child_age",
                        "type": "number",
                        "label": label("Idade"),
                        "visible_when": {"question": "children", "operator": "equals", "value": 1},
                    },
                ],
            }
        ]
    )
    assert validate_answers(form, {"children": 1, "only_child_age": 4}, complete=True).unwrap() == {
        "children": 1,
        "only_child_age": 4,
    }
    assert errors_of(validate_answers(form, {"children": True}, complete=False)) == {
        "answers.children": "invalid_type"
    }


@pytest.mark.parametrize(
    ("key", "value", "code"),
    [
        ("smoker", "yes", "invalid_type"),
        ("smoker", 1, "invalid_type"),
        ("alcohol", "wine", "invalid_choice"),
        ("alcohol", ["social"], "invalid_type"),
        ("conditions", "diabetes", "invalid_type"),
        ("conditions", ["diabetes", "cancer"], "invalid_choice"),
        ("conditions", ["asthma", "asthma"], "duplicate_choice"),
        ("last_exam", "30/11/2025", "invalid_date"),
        ("last_exam", "2025-02-30", "invalid_date"),
        ("last_exam", 20251130, "invalid_date"),
        ("pain", 11, "out_of_range"),
        ("pain", -1, "out_of_range"),
        ("pain", 2.5, "invalid_type"),
        ("pain", True, "invalid_type"),
        ("weight", 0.1, "out_of_range"),
        ("weight", "72", "invalid_type"),
        ("weight", float("nan"), "invalid_type"),
        ("weight", float("inf"), "invalid_type"),
        ("remarks", 5, "invalid_type"),
        ("remarks", "x" * 10_001, "too_long"),
        ("remarks", "a\x00b", "invalid_characters"),
    ],
)
def test_each_type_refuses_what_it_cannot_hold(key: str, value: object, code: str) -> None:
    assert errors_of(validate_answers(FORM, {"smoker": False, key: value}, complete=False)) == {
        f"answers.{key}": code
    }


def test_unknown_keys_are_refused_and_empty_answers_are_no_answers() -> None:
    errors = errors_of(validate_answers(FORM, {"smoker": False, "shoe_size": 42}, complete=False))
    assert errors == {"answers.shoe_size": "unknown_question"}
    empty = {"smoker": False, "remarks": "   ", "conditions": [], "alcohol": None}
    assert validate_answers(FORM, empty, complete=True) == Success({"smoker": False})
    assert errors_of(validate_answers(FORM, ["smoker"], complete=False)) == {"answers": "invalid_type"}


def test_a_short_form_requires_its_one_question() -> None:
    form = parsed(short_form())
    assert errors_of(validate_answers(form, {"complaint": " "}, complete=True)) == {
        "answers.complaint": "required"
    }
