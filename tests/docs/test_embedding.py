"""docs/EMBEDDING.md runs: its ``python`` blocks are programs, executed as the guide says they are.

Every ```python block under one ``##`` heading (``###`` subsections included) belongs to one program. The
blocks of a program run in order in one fresh namespace, compiled with top-level ``await`` allowed (the
asyncio REPL's rules), with the working directory set to a temporary directory: the guide's relative
``sqlite:///clinic.sqlite3`` and ``clinic-data/`` land there. After a program has run, every function it
defined named ``test_*`` is called (and awaited if async), as pytest-asyncio would.

Tracebacks point into the guide itself: each block is compiled under the file name ``docs/EMBEDDING.md``
with its lines at their line numbers there.
"""

from __future__ import annotations

import ast
import inspect
import sys
import traceback
import types
from pathlib import Path
from typing import Any

import pytest

from tests.docs.markdown import DOCS, Block, Section, sections_with

GUIDE = DOCS / "EMBEDDING.md"


def programs_of(markdown: str) -> list[Section]:
    """The programs of the guide: its ``##`` sections with at least one python block."""
    return sections_with(markdown, "python")


async def run(program: Section) -> list[str]:
    """Execute a program's blocks, then its ``test_*`` functions; the names of the tests called."""
    # A real module, registered while it runs: dataclasses and pickling look their module up by name.
    module = types.ModuleType(f"embedding_guide_{id(program)}")
    sys.modules[module.__name__] = module
    try:
        namespace: dict[str, Any] = module.__dict__
        for block in program.blocks:
            # Padding puts every line at its line number in the guide, so a traceback names the right line.
            padded = "\n" * (block.first_line - 1) + block.source
            # dont_inherit: the examples get no __future__ import from this file, as in a reader's script.
            code = compile(
                padded, str(GUIDE), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
            )
            outcome = eval(code, namespace)  # noqa: S307 - our own documentation, compiled just above
            if inspect.iscoroutine(outcome):
                await outcome
        called: list[str] = []
        for name, value in list(namespace.items()):
            if name.startswith("test_") and callable(value):
                returned = value()
                if inspect.iscoroutine(returned):
                    await returned
                called.append(name)
        return called
    finally:
        del sys.modules[module.__name__]


PROGRAMS = programs_of(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_runnable_examples() -> None:
    # Without this, an empty parametrisation below would pass by running nothing.
    assert [p.heading for p in PROGRAMS] == [
        "Use it on a database",
        "Run the jobs, and add your own handlers",
        "Test your own code with the in-memory fakes",
    ]
    assert all(p.blocks for p in PROGRAMS)


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.heading for p in PROGRAMS])
async def test_the_examples_of_each_section_run(
    program: Section, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    called = await run(program)
    if "fakes" in program.heading:
        assert len(called) >= 3, called  # the tests it shows were really run
    elif "jobs" in program.heading:
        assert (tmp_path / "jobs.sqlite3").exists()
    else:
        assert (tmp_path / "clinic.sqlite3").exists()  # it ran against the temporary SQLite file


def test_the_splitter_groups_blocks_by_section_and_keeps_line_numbers() -> None:
    markdown = "\n".join(
        [
            "# Title",
            "```python",
            "ignored_before_any_section = True",
            "```",
        ]
    )
    with pytest.raises(AssertionError, match="before any ## heading"):
        programs_of(markdown)

    markdown = "\n".join(
        [
            "## One",  # 1
            "```python",  # 2
            "a = 1",  # 3
            "```",  # 4
            "### Sub",  # 5
            "```bash",  # 6
            "echo not python",  # 7
            "```",  # 8
            "```python",  # 9
            "b = a + 1",  # 10
            "```",  # 11
            "## Two, prose only",  # 12
            "## Three",  # 13
            "```python",  # 14
            "c = 3",  # 15
            "```",  # 16
        ]
    )
    found = programs_of(markdown)
    assert [(p.heading, [(b.first_line, b.source) for b in p.blocks]) for p in found] == [
        ("One", [(3, "a = 1\n"), (10, "b = a + 1\n")]),
        ("Three", [(15, "c = 3\n")]),
    ]


async def test_a_failing_example_fails_and_names_its_line_in_the_guide() -> None:
    program = Section("broken", [Block(40, "x = 1\nraise RuntimeError('boom')\n")])
    with pytest.raises(RuntimeError, match="boom") as raised:
        await run(program)
    in_guide = [
        f.lineno for f in traceback.extract_tb(raised.value.__traceback__) if f.filename == str(GUIDE)
    ]
    assert in_guide == [41]
