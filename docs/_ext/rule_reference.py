"""Write the rule reference into docs/reference.md, generated from the program's models.

Run after changing a model (tests/test_docs.py fails until it is run)::

    python docs/_ext/rule_reference.py

Everything after the ``<!-- generated: ...`` line of the page is replaced by the Markdown
that :func:`rewardrules.tools.reference.pages.reference_markdown` writes from the pydantic
models. The page is committed as generated, so that it reads on GitHub as on the site, and
the test keeps it equal to what the models say.
"""

from __future__ import annotations

from pathlib import Path

from rewardrules.tools.reference.pages import reference_markdown

PAGE = Path(__file__).resolve().parent.parent / "reference.md"
MARKER = "<!-- generated: "


def page_text(current: str) -> str:
    """The page with its generated part as the models give it now."""
    head, found, rest = current.partition(MARKER)
    if not found:
        raise SystemExit(f"{PAGE}: no line starting with {MARKER!r} to write after")
    marker_line = MARKER + rest.split("\n", 1)[0]
    return f"{head}{marker_line}\n\n{reference_markdown()}"


if __name__ == "__main__":
    PAGE.write_text(page_text(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
