"""The documentation's examples run, and the generated rule reference covers every model.

Every fenced block of docs/*.md and README.md is found, and each one that is run becomes one
test named after its page and the line of its opening fence (``guide.md:42``). The
conventions, for whoever writes a page (docs/why-sphinx.md says the same to readers):

* A ``yaml`` block that is a whole program (it has a ``program:`` key) must load with
  :func:`rewardrules.rulefiles.loader.load_program_text`. A rule (a mapping with ``kind:``), a list
  of
  rules, or a mapping whose only key is ``tiers`` is placed into a small program (which
  defines the tiers ``silver`` and ``gold``) and must load. Any other YAML is an error: mark it.
* A ``python`` block is run after the ``python`` blocks above it on the same page, in one
  namespace, in a temporary directory that holds a copy of ``rules/`` (so the paths of the
  examples, ``rules/examples/...``, work and nothing is written into the repository).
* ``<!-- file: NAME -->`` on the line above a block (of any language) also saves the block's
  text as the file NAME in that directory, for the blocks and commands below it.
* ``<!-- output-of: rewardrules ARGUMENTS -->`` on the line above a ``text`` block runs the
  command there, on the page's files as they stand at that point, and the block must be
  exactly what it prints (standard output and error together).
* ``<!-- no-test: why -->`` on the line above a ``yaml`` or ``python`` block leaves it out.
  It is for blocks that are deliberately not runnable: a signature, a broken file shown for
  its error message, an API tour with placeholder file names.

Several markers may stand on consecutive lines above one block. Shell commands go in ``sh``
blocks and output in ``text`` blocks; those, and ``csv`` and ``json`` blocks, run only as
marked above. The site itself (``sphinx-build -W``) is built by CI, not by these tests.
"""

from __future__ import annotations

import re
import shlex
import shutil
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from rewardrules.cli.main import cli
from rewardrules.errors import RuleFileError
from rewardrules.program.model import (
    RULE_KINDS,
    Availability,
    Birthday,
    CatalogueReward,
    Filter,
    Gift,
    GiftItem,
    Inactivity,
    Limit,
    Multiplier,
    PercentOff,
    PointsSettings,
    Program,
    Referral,
    RefundSettings,
    RollingWindow,
    TierLevel,
    Tiers,
    VoucherReward,
    VoucherSpec,
)
from rewardrules.rulefiles.loader import load_program_text
from rewardrules.tools.reference import pages as _reference
from rewardrules.tools.reference.examples import (
    flow,
    full_examples,
    kind_example,
    rule_base,
    to_yaml,
)

ROOT = Path(__file__).resolve().parent.parent
PAGES = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<name>no-test|file|output-of)\s*:?\s*(?P<value>.*?)\s*-->\s*$")
_LANGUAGES = {"yaml": "yaml", "yml": "yaml", "python": "python", "py": "python", "text": "text"}

WRAPPER = """\
program: docs-example
name: Docs example
currency: USD
timezone: America/New_York
"""
WRAPPER_TIERS = """\
tiers:
  qualify_by: spend
  window: lifetime
  levels:
    - {name: silver, at_least: 100.00}
    - {name: gold, at_least: 500.00}
"""


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, with the markers on the lines above it."""

    page: Path
    line: int
    language: str
    text: str
    markers: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def skipped(self) -> bool:
        return "no-test" in self.markers


def blocks(page: Path) -> Iterator[Block]:
    """The fenced blocks of a page, in order, with the markers on the lines above them."""
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = "".join(f"{_dedent(line, indent)}\n" for line in lines[index + 1 : end])
        words = opening["info"].split()
        language = _LANGUAGES.get(words[0].lower(), words[0]) if words else ""
        markers: dict[str, str] = {}
        above = index - 1
        while above >= 0 and (marker := _MARKER.match(lines[above])):
            markers.setdefault(marker["name"], marker["value"])
            above -= 1
        yield Block(page, index + 1, language, body, markers)
        index = end + 1


def _dedent(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def _tested(language: str) -> list[Any]:
    return [
        pytest.param(block, id=block.id)
        for block in ALL_BLOCKS
        if block.language == language and not block.skipped
    ]


def _program_text(block: Block) -> str:
    """The block as a whole program: itself, or the snippet placed into a small program."""
    try:
        shape = yaml.safe_load(block.text)
    except yaml.YAMLError:
        return block.text  # not even YAML: the loader says where
    if isinstance(shape, dict) and "program" in shape:
        return block.text
    if isinstance(shape, dict) and set(shape) in ({"tiers"}, {"refunds"}):
        return WRAPPER + block.text
    if isinstance(shape, list):
        return WRAPPER + WRAPPER_TIERS + "rules:\n" + _indent(block.text, "  ")
    if isinstance(shape, dict) and "kind" in shape:
        return WRAPPER + WRAPPER_TIERS + "rules:\n  -\n" + _indent(block.text, "    ")
    pytest.fail(
        f"{block.id}: this YAML is not a program, a rule, a list of rules, a tiers: or a "
        "refunds: mapping; make it one, or mark it <!-- no-test: why --> on the line above"
    )


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


@pytest.mark.parametrize("block", _tested("yaml"))
def test_yaml_example_is_a_valid_program(block: Block) -> None:
    text = _program_text(block)
    if text is block.text:
        # Padded so that a problem's line is the line of the page.
        text, source = "\n" * block.line + text, str(block.page.relative_to(ROOT))
    else:
        source = f"{block.id} (placed in a small program)"
    try:
        load_program_text(text, source=source)
    except RuleFileError as error:
        pytest.fail(f"{block.id}: the example does not load:\n{error.render()}")


def _page_directory(tmp_path: Path, block: Block) -> Path:
    """A directory with a copy of rules/ and the page's files as they stand at ``block``."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    for earlier in ALL_BLOCKS:
        if earlier.page == block.page and earlier.line < block.line and "file" in earlier.markers:
            target = tmp_path / earlier.markers["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(earlier.text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("block", _tested("python"))
def test_python_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_page_directory(tmp_path, block))
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for earlier in ALL_BLOCKS:
        if earlier.page == block.page and earlier.language == "python" and not earlier.skipped:
            if earlier.line > block.line:
                break
            # Running the page's own code is the point of the test.
            exec(compile(earlier.text, earlier.id, "exec"), namespace)  # noqa: S102


def _commands() -> list[Any]:
    return [
        pytest.param(block, id=block.id) for block in ALL_BLOCKS if "output-of" in block.markers
    ]


@pytest.mark.parametrize("block", _commands())
def test_command_prints_what_the_page_shows(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program, *arguments = shlex.split(block.markers["output-of"])
    assert program == "rewardrules", f"{block.id}: only rewardrules commands are run"
    monkeypatch.chdir(_page_directory(tmp_path, block))
    result = CliRunner().invoke(cli, arguments, prog_name="rewardrules")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output == block.text


def test_every_page_is_read() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "guide.md", "reference.md", "api.md"} <= names
    assert len(_tested("yaml")) > 0
    assert len(_tested("python")) > 0


def test_markers_stand_above_blocks_they_apply_to() -> None:
    misplaced = [
        block.id
        for block in ALL_BLOCKS
        if ("no-test" in block.markers and block.language not in ("yaml", "python"))
        or ("output-of" in block.markers and block.language != "text")
    ]
    assert misplaced == []


def test_api_page_documents_every_public_name() -> None:
    # autodoc documents a module's members from its __all__: exactly the public names.
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert ".. automodule:: rewardrules\n   :members:\n" in page
    assert "ignore-module-all" not in page
    assert ".. autofunction::" not in page
    assert ".. autoclass::" not in page


def test_every_page_is_in_a_section_of_the_sidebar() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([a-z0-9-]+)$", index, re.MULTILINE))
    pages = {page.stem for page in (ROOT / "docs").glob("*.md")} - {"index"}
    assert sorted(pages - listed) == [], "add these pages to a section of docs/index.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    marker = "<!-- generated: "
    assert marker in page
    generated = page.split(marker, 1)[1].split("\n", 1)[1]
    assert generated == "\n" + _reference.reference_markdown(), (
        "docs/reference.md is out of date: run `python docs/_ext/rule_reference.py`"
    )


# The generated rule reference: src/rewardrules/tools/reference/pages.py and examples.py
# (with each kind's KindSpec.reference), written into docs/reference.md by
# docs/_ext/rule_reference.py.


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        arguments = arguments[:1]
    for argument in arguments:
        yield from _models_in(argument)


def _reachable(model: type[BaseModel]) -> set[type[BaseModel]]:
    found = {model}
    for field_info in model.model_fields.values():
        for child in _models_in(field_info.annotation):
            if child not in found:
                found |= _reachable(child)
    return found


DOCS = {doc.model: doc for doc in _reference.model_docs()}
BASE = rule_base()


def test_the_reference_has_a_section_for_every_model_and_kind() -> None:
    assert set(DOCS) == _reachable(Program) | {BASE}
    assert set(RULE_KINDS) <= set(DOCS)


@pytest.mark.parametrize("model", [*DOCS], ids=lambda model: model.__name__)
def test_the_reference_covers_every_field(model: type[BaseModel]) -> None:
    documented = [entry.name for entry in DOCS[model].fields]
    if model in RULE_KINDS:
        documented += [entry.name for entry in DOCS[BASE].fields]
    assert sorted(documented) == sorted(model.model_fields)
    for entry in DOCS[model].fields:
        assert entry.type, entry.name
        assert entry.description, entry.name
        assert entry.required or entry.default, entry.name


def test_the_reference_shows_every_field_with_its_example() -> None:
    text = _reference.reference_markdown()
    for doc in DOCS.values():
        assert f"\n{'#' * doc.level} {doc.title}\n" in text
        for entry in doc.fields:
            assert f"`{entry.name}` — {entry.type}; " in text
            assert f"Example: `{entry.name}: {flow(entry.example)}`" in text


def test_the_reference_reads_on_github_as_on_the_site() -> None:
    """No MyST-only syntax, and every link goes to a heading's own anchor on the page."""
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert not re.search(r"^\([\w-]+\)=$", text, re.MULTILINE)
    assert "{ref}`" not in text
    headings = {
        _reference.anchor(line.lstrip("#").strip())
        for line in text.splitlines()
        if line.startswith("#")
    }
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "the reference links its sections"
    assert links <= headings, sorted(links - headings)


def _rule(kind: str = "points_per_spend", **keys: object) -> dict[str, object]:
    required = {
        "points_per_spend": {"points": 1},
        "every_nth_free": {"every": 2},
        "referral": {"referrer": {"points": 1}},
    }
    return {"id": "docs-rule", "kind": kind, **required.get(kind, {}), **keys}


def _program(**keys: object) -> dict[str, object]:
    tiers = {
        "qualify_by": "spend",
        "window": "lifetime",
        "levels": [{"name": "silver", "at_least": 100}, {"name": "gold", "at_least": 500}],
    }
    return {**yaml.safe_load(WRAPPER), "tiers": tiers, **keys}


def _in_tiers(**keys: object) -> dict[str, object]:
    tiers = {
        "qualify_by": "spend",
        "window": "lifetime",
        "levels": [{"name": "gold", "at_least": 0}],
    }
    return _program(tiers={**tiers, **keys})


PLACE: dict[type[BaseModel], Callable[[dict[str, object]], dict[str, object]]] = {
    Program: lambda example: example,
    PointsSettings: lambda example: _program(points=example),
    Tiers: lambda example: _program(tiers=example),
    RefundSettings: lambda example: _program(refunds=example),
    Inactivity: lambda example: _program(points={"expire_on_inactivity": example}),
    TierLevel: lambda example: _in_tiers(levels=[example]),
    RollingWindow: lambda example: _in_tiers(window=example),
    BASE: lambda example: _program(rules=[_rule(**example)]),
    Filter: lambda example: _program(rules=[_rule(when=example)]),
    Multiplier: lambda example: _program(rules=[_rule(multipliers=[example])]),
    PercentOff: lambda example: _program(rules=[_rule("every_nth_free", reward=example)]),
    VoucherReward: lambda example: _program(rules=[_rule("every_nth_free", reward=example)]),
    VoucherSpec: lambda example: _program(
        rules=[_rule("every_nth_free", reward={"voucher": example})]
    ),
    # A limit of value fits a rule that gives money; one of points, a rule that gives points.
    Limit: lambda example: _program(
        rules=[_rule("every_nth_free" if "value" in example else "points_per_spend", limit=example)]
    ),
    Gift: lambda example: _program(rules=[_rule("referral", referrer=example, referred=example)]),
    GiftItem: lambda example: _program(rules=[_rule("order_discount", gift_item=example)]),
    CatalogueReward: lambda example: _program(rewards=[example]),
    Availability: lambda example: _program(
        rewards=[{"id": "mug", "name": "Mug", "cost": 100, "value": "3.00", "available": example}]
    ),
    **{kind: (lambda example: _program(rules=[example])) for kind in RULE_KINDS},
}


def _load(mapping: dict[str, object], source: str) -> Program:
    text = to_yaml(mapping)
    try:
        return load_program_text(text, source=source)
    except RuleFileError as error:
        pytest.fail(f"{source}: the example does not load:\n{text}\n{error.render()}")


@pytest.mark.parametrize("model", [*DOCS], ids=lambda model: model.__name__)
def test_every_example_of_a_model_together_is_valid(model: type[BaseModel]) -> None:
    # Keys that cannot be set at once (a birthday's points and voucher) are in separate
    # mappings; together the mappings set every key the model accepts.
    assert model in PLACE, f"add {model.__name__} to PLACE: where its example goes in a program"
    examples = full_examples(model)
    for number, example in enumerate(examples, 1):
        _load(PLACE[model](example), f"{model.__name__} example {number} of {len(examples)}")


def test_keys_that_cannot_stand_together_get_examples_of_their_own() -> None:
    birthday = [set(example) for example in full_examples(Birthday)]
    assert [keys & {"points", "voucher", "window", "days_around"} for keys in birthday] == [
        {"points", "window"},
        {"voucher", "window"},
        {"points", "days_around"},
    ]
    assert [sorted(set(example) - {"per"}) for example in full_examples(Limit)] == [
        ["points"],
        ["rewards"],
        ["value"],
    ]
    assert "exclusive_group" not in full_examples(Referral)[0]


@pytest.mark.parametrize("kind", RULE_KINDS, ids=lambda kind: kind.__name__)
def test_each_kinds_example_is_a_valid_rule(kind: type[BaseModel]) -> None:
    program = _load(_program(rules=[kind_example(kind)]), f"{kind.__name__} example")
    assert type(program.rules[0]) is kind


@pytest.mark.parametrize("percent", ["0", "150"])
def test_the_stated_limit_of_tier_discounts_holds(percent: str) -> None:
    rule = _rule("tiered_discount", discounts={"gold": Decimal(percent)})
    with pytest.raises(RuleFileError, match="at most 100 percent"):
        load_program_text(to_yaml(_program(rules=[rule])))
