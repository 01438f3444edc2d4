"""Sphinx configuration: MyST Markdown pages, the Furo theme, autodoc for the Python API.

Build with ``sphinx-build -W --keep-going -b html docs <output>`` after installing
``.[docs]``; why this generator is in why-sphinx.md.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from pydantic import BaseModel
from pygments.lexers.special import TextLexer
from sphinx.application import Sphinx


project = "rewardrules"
author = "the rewardrules authors"
copyright = "the rewardrules authors"
release = importlib.metadata.version("rewardrules")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    # docs/architecture.md's diagram: a ```mermaid fence, which GitHub also draws.
    "sphinxcontrib.mermaid",
    # docs/cli.md: the command-line reference, from the click commands.
    "sphinx_click",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# MyST: definition lists for the generated reference; heading anchors so that pages can
# link to each other's sections as page.md#heading.
myst_enable_extensions = ["deflist"]
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"rewardrules {release}"

# Unresolved Python type names in signatures (Decimal, ZoneInfo, ...) are not errors.
nitpicky = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
# pydantic's own hooks are not part of this API; members are listed per class in api.md.
autodoc_default_options = {"exclude-members": "model_config, model_post_init"}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Attributes sections as field lists, not attribute directives: a dataclass or named tuple
# documented both ways would otherwise be a duplicate object under -W.
napoleon_use_ivar = True


def _model_fields(
    _app: Sphinx, what: str, _name: str, obj: Any, _options: Any, lines: list[str]
) -> None:
    """Add a pydantic model's fields, with their descriptions, to its class docstring."""
    if what != "class" or not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        return
    fields = [(name, field) for name, field in obj.model_fields.items() if field.description]
    if not fields:
        return
    lines.extend(["", ".. rubric:: Fields", ""])
    for name, field in fields:
        lines.append(f"* ``{name}`` -- {field.description}")
    lines.append("")


def _model_signature(
    _app: Sphinx, what: str, _name: str, obj: Any, _options: Any, signature: str, annotation: Any
) -> tuple[str, Any] | None:
    """Show a pydantic model's keyword fields, not its validators' metadata."""
    if what != "class" or not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        return None
    fields = [
        name if field.is_required() else f"{name}=..." for name, field in obj.model_fields.items()
    ]
    return f"(*, {', '.join(fields)})", annotation


def _literal_stars(_app: Sphinx, _ctx: Any, lines: list[str]) -> None:
    """Keep a ``*`` of command help ('histories/*.parquet') from starting emphasis."""
    for index, line in enumerate(lines):
        if not line.lstrip().startswith(".. "):
            lines[index] = line.replace("*", "\\*")


def setup(app: Sphinx) -> None:
    """Project-specific hooks."""
    # docs/cli.md: click's help is plain text, sphinx-click reads it as reStructuredText.
    for event in ("description", "options", "arguments"):
        app.connect(f"sphinx-click-process-{event}", _literal_stars)
    # Pygments has no CSV lexer; show CSV examples as plain text rather than warn.
    app.add_lexer("csv", TextLexer)
    app.connect("autodoc-process-docstring", _model_fields)
    app.connect("autodoc-process-signature", _model_signature)
