"""Sphinx extension: the rule reference, generated from the models when the docs are built.

A page asks for the reference with an empty fenced directive of its own line::

    ```{rule-reference}
    ```

Before MyST parses the page, the block is replaced by the Markdown that
:func:`rewardrules.tools.reference.pages.reference_markdown` writes from the pydantic models, so the
reference always describes the models the docs were built with. Its headings become sections
of the page (a directive's body could only hold rubrics). If this extension is not loaded,
MyST reports the unknown directive and a ``-W`` build fails instead of losing the reference.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from rewardrules.tools.reference.pages import reference_markdown

MARKER = re.compile(r"^```\{rule-reference\}[ \t]*\n```[ \t]*$", re.MULTILINE)
_PAGES = "rewardrules_reference_pages"


def _insert(app: Sphinx, docname: str, source: list[str]) -> None:
    if MARKER.search(source[0]):
        source[0] = MARKER.sub(lambda _match: reference_markdown(), source[0])
        _pages(app.env).add(docname)


def _pages(env: BuildEnvironment) -> set[str]:
    if not hasattr(env, _PAGES):
        setattr(env, _PAGES, set())
    pages: set[str] = getattr(env, _PAGES)
    return pages


def _always_reread(
    _app: Sphinx, env: BuildEnvironment, _added: set[str], _changed: set[str], _removed: set[str]
) -> list[str]:
    # The page's text may be unchanged while the models changed: read it again every build.
    return sorted(_pages(env) & env.found_docs)


def _forget(_app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _pages(env).discard(docname)


def _merge(_app: Sphinx, env: BuildEnvironment, _docnames: set[str], other: Any) -> None:
    _pages(env).update(_pages(other))


def _start(app: Sphinx) -> None:
    _pages(app.env)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks with Sphinx."""
    app.connect("builder-inited", _start)
    app.connect("source-read", _insert)
    app.connect("env-get-outdated", _always_reread)
    app.connect("env-purge-doc", _forget)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
