"""Email templates with Jinja2, dates and durations with Babel.

Templates are package data, ``templates/<locale>/<name>.{subject,txt,html}``: the subject and text are
rendered without escaping, the HTML with autoescaping (a patient named ``<b>`` stays text). A value the
template uses and the context lacks is an error (``StrictUndefined``), never an empty string in a message
already sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from babel.dates import format_date, format_datetime, format_timedelta
from jinja2 import Environment, PackageLoader, StrictUndefined

from clinic_core.notifications.ports import RenderedEmail
from clinic_core.tenancy.model import Locale

_BABEL_LOCALES = {Locale.PT_BR: "pt_BR", Locale.EN: "en"}


def when(value: datetime, locale: str) -> str:
    """The date, the time on a 24-hour clock, and the zone by name and offset, in the value's own zone:
    ``Sunday, March 8, 2026, 10:00 (Eastern Daylight Time, UTC-04:00)``."""
    if value.tzinfo is None:
        raise ValueError("emails show aware datetimes only (in the place's zone)")
    day = format_date(value, "full", locale=locale)
    clock = format_datetime(value, "HH:mm", tzinfo=value.tzinfo, locale=locale)
    zone = format_datetime(value, "zzzz", tzinfo=value.tzinfo, locale=locale)
    offset = format_datetime(value, "xxx", tzinfo=value.tzinfo, locale=locale)
    return f"{day}, {clock} ({zone}, UTC{offset})"


def time_only(value: datetime, locale: str) -> str:
    return format_datetime(value, "HH:mm", tzinfo=value.tzinfo, locale=locale)


def duration(value: timedelta, locale: str) -> str:
    """``30 minutes``, ``1 day``: rounded down so a link is never said to last longer than it does."""
    return format_timedelta(value, threshold=1.0, format="long", locale=locale)


@cache
def _environments(package: str, directory: str) -> tuple[Environment, Environment]:
    """The (plain, HTML) environments of a template directory, one pair per process: their compiled
    templates are cached with them, and a work horse forked after ``warm_up`` inherits them compiled."""
    loader = PackageLoader(package, directory)
    html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    # Subjects and plain text are not HTML: escaping would show "&amp;" to the reader.
    plain = Environment(
        loader=loader,
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return plain, html


def warm_up(package: str = "clinic_infra.mail", directory: str = "templates") -> int:
    """Compile every template and load the locales' data now (``clinic-worker`` does it before it forks
    work horses, which then start with them ready). Returns how many templates were compiled."""
    plain, html = _environments(package, directory)
    names = plain.list_templates()
    for name in names:
        (html if name.endswith(".html") else plain).get_template(name)
    for locale in _BABEL_LOCALES.values():
        when(datetime.now(UTC), locale)
    return len(names)


class JinjaEmailRenderer:
    def __init__(self, package: str = "clinic_infra.mail", directory: str = "templates") -> None:
        self._plain, self._html = _environments(package, directory)

    def render(self, template: str, locale: Locale, context: Mapping[str, Any]) -> RenderedEmail:
        babel_locale = _BABEL_LOCALES[locale]
        values = {
            **context,
            "when": lambda value: when(value, babel_locale),
            "time_only": lambda value: time_only(value, babel_locale),
            "duration": lambda value: duration(value, babel_locale),
        }
        base = f"{locale.value}/{template}"
        subject = self._plain.get_template(f"{base}.subject").render(values)
        return RenderedEmail(
            subject=" ".join(subject.split()),  # one line: a line break would end the header
            text=self._plain.get_template(f"{base}.txt").render(values),
            html=self._html.get_template(f"{base}.html").render(values),
        )
