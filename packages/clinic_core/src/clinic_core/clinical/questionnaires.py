"""Anamnesis questionnaires: the structure of a template version, and answers checked against it.

A version's structure is sections of questions. Every question has a stable ``key`` (what answers are
stored under), a label in Brazilian Portuguese (and optionally English), a type, and may be shown only
when an earlier question's answer meets a condition (``visible_when``).

Structures and answers come from JSON (an API body, a stored document), so both parsers here take plain
JSON values (dicts, lists, strings, numbers, booleans, None) and report every problem at once, each
against a dotted path (``sections.0.questions.2.options``, ``answers.smoker``).

Rules for answers, in one place:

- an answer of ``None`` (or an empty text, or an empty selection) is no answer;
- a key that is not a question of the version is refused (``unknown_question``);
- a question whose ``visible_when`` does not hold is not asked, and an answer to it is **refused**
  (``not_applicable``) rather than dropped: what is stored is exactly what the form showed, and a client
  that keeps stale answers of hidden questions learns it at once instead of losing data silently;
- a condition holds only on an answer: a question conditioned on an unanswered (or hidden) one is hidden;
- required questions must be answered only when they are shown, and only when the response is complete
  (signing): a draft may leave them open.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from returns.result import Failure, Result, Success

from clinic_core.shared.errors import FieldError, InvalidInput

AnswerValue = str | bool | int | float | tuple[str, ...]
"""A stored answer: text, yes/no, a choice's value, a number, a date (ISO ``YYYY-MM-DD``), a scale point, or
the values chosen of a multiple choice (in the order of the options)."""
Answers = Mapping[str, AnswerValue]
ConditionValue = str | bool | int | float

MAX_SECTIONS = 50
MAX_QUESTIONS = 300
MAX_OPTIONS = 100
MAX_LABEL = 500
MAX_HELP = 2000
MAX_UNIT = 20
MAX_TEXT_ANSWER = 10_000
MAX_SCALE_POINTS = 101
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""Question keys and option values: lower-case ASCII identifiers, stable across versions."""
_CONTROL_IN_TEXT = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""Control characters, but for tab and line breaks (which free text may hold)."""
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class QuestionType(StrEnum):
    TEXT = "text"
    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    NUMBER = "number"
    DATE = "date"
    SCALE = "scale"


CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})


class ConditionOperator(StrEnum):
    EQUALS = "equals"
    """The answer is ``value`` (a multiple choice: ``value`` is among those chosen)."""
    NOT_EQUALS = "not_equals"
    """The answer is not ``value`` (a multiple choice: ``value`` is not among those chosen)."""
    IN = "in"
    """The answer is one of ``values`` (a multiple choice: any of them was chosen)."""


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """Text clinics and patients read: Brazilian Portuguese always, English when the clinic gives it."""

    pt_br: str
    en: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"pt_br": self.pt_br, "en": self.en}


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: LocalizedText


@dataclass(frozen=True, slots=True)
class ScaleLabel:
    value: int
    label: LocalizedText


@dataclass(frozen=True, slots=True)
class Condition:
    question: str
    operator: ConditionOperator
    values: tuple[ConditionValue, ...]
    """One value for ``equals`` and ``not_equals``; one or more for ``in``."""


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    type: QuestionType
    label: LocalizedText
    required: bool = False
    help: LocalizedText | None = None
    options: tuple[Option, ...] = ()
    """The choices of a single or multiple choice question."""
    unit: str | None = None
    """A number's unit, as shown (``kg``, ``mg/dL``)."""
    minimum: int | float | None = None
    """A number's or a scale's lowest allowed value (a scale always has both bounds)."""
    maximum: int | float | None = None
    scale_labels: tuple[ScaleLabel, ...] = ()
    """Labels of some points of a scale (``0``: no pain, ``10``: the worst pain)."""
    visible_when: Condition | None = None

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True, slots=True)
class Section:
    title: LocalizedText
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """The sections of one template version. Immutable, like the version that holds it."""

    sections: tuple[Section, ...]
    _by_key: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {q.key: q for q in self.questions})

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question, in the order the form shows them."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, key: str) -> Question | None:
        return self._by_key.get(key)

    def visible_keys(self, answers: Answers) -> frozenset[str]:
        """The questions shown, given ``answers`` (already valid for this questionnaire)."""
        shown: set[str] = set()
        for question in self.questions:
            if _holds(question.visible_when, answers, shown):
                shown.add(question.key)
        return frozenset(shown)

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"title": s.title.as_json(), "questions": [question_as_json(q) for q in s.questions]}
            for s in self.sections
        ]


def question_as_json(q: Question) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": q.key,
        "type": q.type.value,
        "label": q.label.as_json(),
        "required": q.required,
        "help": q.help.as_json() if q.help else None,
    }
    if q.type in CHOICE_TYPES:
        out["options"] = [{"value": o.value, "label": o.label.as_json()} for o in q.options]
    if q.type is QuestionType.NUMBER:
        out |= {"unit": q.unit, "min": q.minimum, "max": q.maximum}
    if q.type is QuestionType.SCALE:
        out |= {
            "min": q.minimum,
            "max": q.maximum,
            "labels": [{"value": s.value, "label": s.label.as_json()} for s in q.scale_labels],
        }
    if q.visible_when is not None:
        c = q.visible_when
        condition: dict[str, Any] = {"question": c.question, "operator": c.operator.value}
        if c.operator is ConditionOperator.IN:
            condition["values"] = list(c.values)
        else:
            condition["value"] = c.values[0]
        out["visible_when"] = condition
    return out


# --- answers ------------------------------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    """Equality that keeps booleans apart from numbers (``True == 1`` in Python, not in a form)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return a == b


def _holds(condition: Condition | None, answers: Answers, shown: set[str] | frozenset[str]) -> bool:
    if condition is None:
        return True
    if condition.question not in shown or condition.question not in answers:
        return False
    answer = answers[condition.question]
    chosen: tuple[object, ...] = answer if isinstance(answer, tuple) else (answer,)
    if condition.operator is ConditionOperator.EQUALS:
        return any(_same(c, condition.values[0]) for c in chosen)
    if condition.operator is ConditionOperator.NOT_EQUALS:
        return not any(_same(c, condition.values[0]) for c in chosen)
    return any(_same(c, v) for c in chosen for v in condition.values)


def _is_number(raw: object) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)


def _parse_date(raw: object) -> date | None:
    if not isinstance(raw, str) or len(raw) != 10:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _answer(question: Question, raw: object) -> tuple[AnswerValue | None, tuple[str, str] | None]:
    """(the answer to store or None when unanswered, (code, message) when ``raw`` is not valid)."""
    kind = question.type
    if kind is QuestionType.TEXT:
        if not isinstance(raw, str):
            return None, ("invalid_type", "expected text")
        text = unicodedata.normalize("NFC", raw).strip()
        if len(text) > MAX_TEXT_ANSWER:
            return None, ("too_long", f"at most {MAX_TEXT_ANSWER} characters")
        if _CONTROL_IN_TEXT.search(text):
            return None, ("invalid_characters", "control characters are not allowed")
        return (text or None), None
    if kind is QuestionType.YES_NO:
        if not isinstance(raw, bool):
            return None, ("invalid_type", "expected true or false")
        return raw, None
    if kind is QuestionType.SINGLE_CHOICE:
        if not isinstance(raw, str):
            return None, ("invalid_type", "expected one of the options' values")
        if raw not in question.option_values:
            return None, ("invalid_choice", "not one of the options: " + ", ".join(question.option_values))
        return raw, None
    if kind is QuestionType.MULTIPLE_CHOICE:
        if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            return None, ("invalid_type", "expected a list of the options' values")
        unknown = [v for v in raw if v not in question.option_values]
        if unknown:
            return None, ("invalid_choice", "not among the options: " + ", ".join(map(str, unknown)))
        if len(set(raw)) != len(raw):
            return None, ("duplicate_choice", "each option may be chosen once")
        picked = tuple(v for v in question.option_values if v in raw)
        return (picked or None), None
    if kind is QuestionType.DATE:
        day = _parse_date(raw)
        if day is None:
            return None, ("invalid_date", "expected a date as YYYY-MM-DD")
        return day.isoformat(), None
    # number and scale
    if not _is_number(raw):
        return None, ("invalid_type", "expected a number")
    assert isinstance(raw, int | float)
    if kind is QuestionType.SCALE and (isinstance(raw, float) and not raw.is_integer()):
        return None, ("invalid_type", "expected a whole number")
    value: int | float = int(raw) if kind is QuestionType.SCALE else raw
    low, high = question.minimum, question.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'' if low is None else low} to {'' if high is None else high}".strip()
        return None, ("out_of_range", f"expected a value in {bounds}")
    return value, None


def validate_answers(
    questionnaire: Questionnaire, raw_answers: object, *, complete: bool
) -> Result[dict[str, AnswerValue], InvalidInput]:
    """The answers to store for ``raw_answers`` (a JSON object by question key), or every problem found.

    ``complete``: every shown required question must be answered (signing); otherwise (a draft) they may
    wait.
    """
    if not isinstance(raw_answers, Mapping):
        return Failure(InvalidInput.of("answers", "invalid_type", "expected an object keyed by question"))
    errors: list[FieldError] = [
        FieldError(f"answers.{key}", "unknown_question", "not a question of this template version")
        for key in raw_answers
        if not isinstance(key, str) or questionnaire.question(key) is None
    ]
    answers: dict[str, AnswerValue] = {}
    shown: set[str] = set()
    for question in questionnaire.questions:
        path = f"answers.{question.key}"
        raw = raw_answers.get(question.key)
        visible = _holds(question.visible_when, answers, shown)
        value, problem = (None, None) if raw is None else _answer(question, raw)
        if problem is not None:
            errors.append(FieldError(path, *problem))
            if visible:
                shown.add(question.key)
            continue
        if not visible:
            if value is not None:
                errors.append(
                    FieldError(
                        path, "not_applicable", "this question is not asked, given the earlier answers"
                    )
                )
            continue
        shown.add(question.key)
        if value is not None:
            answers[question.key] = value
        elif complete and question.required:
            errors.append(FieldError(path, "required", "this question must be answered"))
    if errors:
        return Failure(InvalidInput(tuple(errors)))
    return Success(answers)


def answers_as_json(answers: Answers) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in answers.items()}


def answers_from_json(raw: Mapping[str, Any]) -> dict[str, AnswerValue]:
    """Stored answers back (trusted: they were validated before they were written)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


# --- structure ----------------------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append(FieldError(path, code, message))


def _line(raw: object, path: str, errors: _Errors, *, limit: int, required: bool = True) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        errors.add(path, "invalid_type" if raw is not None else "required", "expected text")
        return None
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if not text:
        if required:
            errors.add(path, "required", "this field is required")
        return None
    if len(text) > limit:
        errors.add(path, "too_long", f"at most {limit} characters")
    elif _CONTROL_IN_LINE.search(text):
        errors.add(path, "invalid_characters", "control characters are not allowed")
    return text


def _localized(
    raw: object, path: str, errors: _Errors, *, limit: int = MAX_LABEL, required: bool = True
) -> LocalizedText | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, Mapping):
        errors.add(
            path, "invalid_type" if raw is not None else "required", 'expected {"pt_br": ..., "en": ...}'
        )
        return None
    for key in raw:
        if key not in ("pt_br", "en"):
            errors.add(f"{path}.{key}", "unknown_field", "only pt_br and en are accepted")
    pt_br = _line(raw.get("pt_br"), f"{path}.pt_br", errors, limit=limit)
    en = _line(raw.get("en"), f"{path}.en", errors, limit=limit, required=False)
    return LocalizedText(pt_br, en) if pt_br is not None else None


def _key(raw: object, path: str, errors: _Errors) -> str | None:
    if not isinstance(raw, str) or KEY_PATTERN.fullmatch(raw) is None:
        errors.add(path, "invalid_key", "use a-z, 0-9 and _, starting with a letter, at most 63 characters")
        return None
    return raw


_QUESTION_FIELDS = frozenset(
    {"key", "type", "label", "required", "help", "options", "unit", "min", "max", "labels", "visible_when"}
)


def _options(raw: object, path: str, errors: _Errors) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not raw:
        errors.add(path, "required", "a choice question needs at least one option")
        return ()
    if len(raw) > MAX_OPTIONS:
        errors.add(path, "too_many", f"at most {MAX_OPTIONS} options")
        return ()
    options: list[Option] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = f"{path}.{i}"
        if not isinstance(item, Mapping):
            errors.add(at, "invalid_type", 'expected {"value": ..., "label": {...}}')
            continue
        value = _key(item.get("value"), f"{at}.value", errors)
        label = _localized(item.get("label"), f"{at}.label", errors)
        if value is not None and value in seen:
            errors.add(f"{at}.value", "duplicate", "option values must be unique within a question")
        if value is not None:
            seen.add(value)
        if value is not None and label is not None:
            options.append(Option(value, label))
    return tuple(options)


def _bound(raw: object, path: str, errors: _Errors, *, whole: bool) -> int | float | None:
    if raw is None:
        return None
    if not _is_number(raw) or (whole and isinstance(raw, float) and not raw.is_integer()):
        errors.add(path, "invalid_type", "expected a whole number" if whole else "expected a number")
        return None
    assert isinstance(raw, int | float)
    return int(raw) if whole else raw


def _scale_labels(
    raw: object, path: str, errors: _Errors, low: int | None, high: int | None
) -> tuple[ScaleLabel, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(path, "invalid_type", 'expected a list of {"value": n, "label": {...}}')
        return ()
    labels: list[ScaleLabel] = []
    seen: set[int] = set()
    for i, item in enumerate(raw):
        at = f"{path}.{i}"
        if not isinstance(item, Mapping):
            errors.add(at, "invalid_type", 'expected {"value": n, "label": {...}}')
            continue
        value = _bound(item.get("value"), f"{at}.value", errors, whole=True)
        label = _localized(item.get("label"), f"{at}.label", errors)
        if value is None:
            if item.get("value") is None:
                errors.add(f"{at}.value", "required", "a scale label names its point")
            continue
        assert isinstance(value, int)
        if low is not None and high is not None and not low <= value <= high:
            errors.add(f"{at}.value", "out_of_range", f"a point of the scale, {low} to {high}")
        elif value in seen:
            errors.add(f"{at}.value", "duplicate", "one label per point")
        seen.add(value)
        if label is not None:
            labels.append(ScaleLabel(value, label))
    return tuple(sorted(labels, key=lambda s: s.value))


def _condition_value(target: Question, raw: object) -> bool:
    """Whether ``raw`` is a value ``target``'s answer could take (what a condition on it may test)."""
    kind = target.type
    if kind is QuestionType.YES_NO:
        return isinstance(raw, bool)
    if kind in CHOICE_TYPES:
        return isinstance(raw, str) and raw in target.option_values
    if kind is QuestionType.TEXT:
        return isinstance(raw, str) and bool(raw.strip())
    if kind is QuestionType.DATE:
        return _parse_date(raw) is not None
    if not _is_number(raw):
        return False
    return kind is not QuestionType.SCALE or float(raw).is_integer()  # type: ignore[arg-type]


def _condition(raw: object, path: str, errors: _Errors, earlier: Mapping[str, Question]) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.add(
            path, "invalid_type", 'expected {"question": key, "operator": ..., "value" | "values": ...}'
        )
        return None
    for key in raw:
        if key not in ("question", "operator", "value", "values"):
            errors.add(f"{path}.{key}", "unknown_field", "not a field of a condition")
    target_key = raw.get("question")
    target = earlier.get(target_key) if isinstance(target_key, str) else None
    if target is None:
        errors.add(f"{path}.question", "unknown_question", "must be the key of an earlier question")
    try:
        operator = ConditionOperator(str(raw.get("operator")))
    except ValueError:
        errors.add(f"{path}.operator", "invalid_operator", "use one of: " + ", ".join(ConditionOperator))
        return None
    values: tuple[Any, ...]
    if operator is ConditionOperator.IN:
        listed = raw.get("values")
        if not isinstance(listed, list) or not listed:
            errors.add(f"{path}.values", "required", "'in' needs a non-empty list of values")
            return None
        if "value" in raw:
            errors.add(f"{path}.value", "unknown_field", "'in' takes values, not value")
        values, value_path = tuple(listed), f"{path}.values"
    else:
        if "value" not in raw or raw.get("value") is None:
            errors.add(f"{path}.value", "required", f"'{operator}' needs a value")
            return None
        if "values" in raw:
            errors.add(f"{path}.values", "unknown_field", f"'{operator}' takes value, not values")
        values, value_path = (raw["value"],), f"{path}.value"
    if target is None or target is _PLACEHOLDER:
        return None
    bad = [v for v in values if not _condition_value(target, v)]
    if bad:
        errors.add(value_path, "invalid_value", f"not an answer the question {target.key!r} can have")
        return None
    if target.type is QuestionType.DATE:
        values = tuple(_parse_date(v).isoformat() for v in values)  # type: ignore[union-attr]
    return Condition(target.key, operator, values)


def _question(raw: object, path: str, errors: _Errors, earlier: dict[str, Question]) -> Question | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "invalid_type", "expected a question object")
        return None
    before = len(errors.items)
    for name in raw:
        if name not in _QUESTION_FIELDS:
            errors.add(f"{path}.{name}", "unknown_field", "not a field of a question")
    key = _key(raw.get("key"), f"{path}.key", errors)
    if key is not None and key in earlier:
        errors.add(f"{path}.key", "duplicate", "question keys must be unique within a version")
    try:
        kind = QuestionType(str(raw.get("type")))
    except ValueError:
        errors.add(f"{path}.type", "invalid_type", "use one of: " + ", ".join(QuestionType))
        return None
    label = _localized(raw.get("label"), f"{path}.label", errors)
    help_text = _localized(raw.get("help"), f"{path}.help", errors, limit=MAX_HELP, required=False)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        errors.add(f"{path}.required", "invalid_type", "expected true or false")
        required = False
    _only_for(raw, path, errors, kind)
    options: tuple[Option, ...] = ()
    unit: str | None = None
    low: int | float | None = None
    high: int | float | None = None
    scale_labels: tuple[ScaleLabel, ...] = ()
    if kind in CHOICE_TYPES:
        options = _options(raw.get("options"), f"{path}.options", errors)
    elif kind is QuestionType.NUMBER:
        unit = _line(raw.get("unit"), f"{path}.unit", errors, limit=MAX_UNIT, required=False)
        low = _bound(raw.get("min"), f"{path}.min", errors, whole=False)
        high = _bound(raw.get("max"), f"{path}.max", errors, whole=False)
        if low is not None and high is not None and low > high:
            errors.add(f"{path}.max", "invalid_range", "max must not be below min")
    elif kind is QuestionType.SCALE:
        low = _bound(raw.get("min"), f"{path}.min", errors, whole=True)
        high = _bound(raw.get("max"), f"{path}.max", errors, whole=True)
        for name, bound in (("min", low), ("max", high)):
            if bound is None and raw.get(name) is None:
                errors.add(f"{path}.{name}", "required", "a scale needs both bounds")
        if low is not None and high is not None:
            if low >= high:
                errors.add(f"{path}.max", "invalid_range", "max must be above min")
            elif high - low + 1 > MAX_SCALE_POINTS:
                errors.add(f"{path}.max", "invalid_range", f"a scale has at most {MAX_SCALE_POINTS} points")
        bounds_ok = low is not None and high is not None and low < high
        scale_labels = _scale_labels(
            raw.get("labels"),
            f"{path}.labels",
            errors,
            int(low) if bounds_ok and low is not None else None,
            int(high) if bounds_ok and high is not None else None,
        )
    condition = _condition(raw.get("visible_when"), f"{path}.visible_when", errors, earlier)
    if key is None or label is None or len(errors.items) > before:
        return None
    return Question(
        key=key,
        type=kind,
        label=label,
        required=required,
        help=help_text,
        options=options,
        unit=unit,
        minimum=low,
        maximum=high,
        scale_labels=scale_labels,
        visible_when=condition,
    )


_TYPE_ONLY_FIELDS: dict[str, frozenset[QuestionType]] = {
    "options": CHOICE_TYPES,
    "unit": frozenset({QuestionType.NUMBER}),
    "min": frozenset({QuestionType.NUMBER, QuestionType.SCALE}),
    "max": frozenset({QuestionType.NUMBER, QuestionType.SCALE}),
    "labels": frozenset({QuestionType.SCALE}),
}


def _only_for(raw: Mapping[str, Any], path: str, errors: _Errors, kind: QuestionType) -> None:
    for name, kinds in _TYPE_ONLY_FIELDS.items():
        if raw.get(name) is not None and kind not in kinds:
            errors.add(f"{path}.{name}", "not_for_type", f"a {kind} question has no {name}")


def parse_questionnaire(raw: object, path: str = "sections") -> Result[Questionnaire, InvalidInput]:
    """A questionnaire from JSON (a list of sections), or every problem found in it.

    Checks: at least one section, each with at least one question; unique question keys; conditions that
    refer to an earlier question with a value that question can have; choice questions with unique,
    non-empty options; number bounds in order; scales with whole bounds, min below max; labels in pt-BR.
    """
    errors = _Errors()
    if not isinstance(raw, list) or not raw:
        errors.add(path, "required", "a questionnaire needs at least one section")
        return Failure(InvalidInput(tuple(errors.items)))
    if len(raw) > MAX_SECTIONS:
        errors.add(path, "too_many", f"at most {MAX_SECTIONS} sections")
        return Failure(InvalidInput(tuple(errors.items)))
    count = sum(len(s.get("questions") or ()) for s in raw if isinstance(s, Mapping))
    if count > MAX_QUESTIONS:
        errors.add(path, "too_many", f"at most {MAX_QUESTIONS} questions in all")
        return Failure(InvalidInput(tuple(errors.items)))
    earlier: dict[str, Question] = {}
    sections: list[Section] = []
    for i, raw_section in enumerate(raw):
        at = f"{path}.{i}"
        if not isinstance(raw_section, Mapping):
            errors.add(at, "invalid_type", 'expected {"title": {...}, "questions": [...]}')
            continue
        for name in raw_section:
            if name not in ("title", "questions"):
                errors.add(f"{at}.{name}", "unknown_field", "not a field of a section")
        title = _localized(raw_section.get("title"), f"{at}.title", errors)
        raw_questions = raw_section.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            errors.add(f"{at}.questions", "required", "a section needs at least one question")
            continue
        questions: list[Question] = []
        for j, raw_question in enumerate(raw_questions):
            question = _question(raw_question, f"{at}.questions.{j}", errors, earlier)
            if question is not None:
                earlier[question.key] = question
                questions.append(question)
            elif isinstance(raw_question, Mapping) and isinstance(raw_question.get("key"), str):
                # Keep the key taken, so a later duplicate is still reported; a later condition on it
                # reports nothing more (the question's own errors say what to fix).
                earlier.setdefault(raw_question["key"], _PLACEHOLDER)
        if title is not None:
            sections.append(Section(title, tuple(questions)))
    if errors.items:
        return Failure(InvalidInput(tuple(errors.items)))
    return Success(Questionnaire(tuple(sections)))


_PLACEHOLDER = Question(key="_", type=QuestionType.TEXT, label=LocalizedText("_"))


def questionnaire_from_json(raw: Sequence[Any]) -> Questionnaire:
    """A stored questionnaire back. Raises ValueError if it is not one (a corrupt row: a bug, not input)."""
    parsed = parse_questionnaire(list(raw))
    if isinstance(parsed, Failure):
        raise ValueError(f"stored questionnaire is invalid: {parsed.failure().detail}")
    return parsed.unwrap()
