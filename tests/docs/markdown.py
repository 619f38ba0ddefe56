"""Reading the code blocks of the guides in docs/, grouped by the ``##`` section they appear in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    first_line: int
    """The line number (1-based) in the document of the block's first line of code."""
    source: str


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


def sections_with(markdown: str, language: str) -> list[Section]:
    """The ``##`` sections of a Markdown document that hold blocks fenced as ``language``, with those blocks.

    ``###`` subsections belong to their ``##`` section. A ``language`` block before any ``##`` heading, or a
    fence that is never closed, is an error: the document would not say what it seems to.
    """
    sections: list[Section] = []
    current: Section | None = None
    fence: str | None = None
    code: list[str] = []
    first_line = 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        opened = _FENCE.match(line)
        if fence is not None:
            if line.strip() == "```":
                if fence == language:
                    if current is None:
                        raise AssertionError(f"line {first_line}: a {language} block before any ## heading")
                    current.blocks.append(Block(first_line, "\n".join(code) + "\n"))
                fence = None
            else:
                code.append(line)
        elif opened is not None:
            fence, code, first_line = opened.group(1), [], number + 1
        elif line.startswith("## "):
            current = Section(line[3:].strip())
            sections.append(current)
    if fence is not None:
        raise AssertionError(f"line {first_line - 1}: a code block is never closed")
    return [s for s in sections if s.blocks]
