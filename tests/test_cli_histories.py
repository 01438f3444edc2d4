"""The command line reads Parquet histories, histories of any name, and standard input."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from helpers import batch_refuses
from rewardrules.cli.main import cli
from rewardrules.histories.columns import read_history_table
from test_cli import HISTORY, PROGRAM


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "scoops.yaml"
    path.write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "history.csv").write_text(HISTORY, encoding="utf-8")
    pq.write_table(read_history_table(tmp_path / "history.csv"), tmp_path / "history.parquet")
    return path


def run(*arguments: str | Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_parquet_history_dry_runs_like_its_csv(program: Path) -> None:
    folder = program.parent
    expected = run("dry-run", program, folder / "history.csv", "--format", "json")
    assert expected[0] == 0
    assert run("dry-run", program, folder / "history.parquet", "--format", "json") == expected


def test_explain_reads_a_parquet_history(program: Path) -> None:
    folder = program.parent
    expected = run("explain", program, folder / "history.csv", "--customer", "c1")
    assert expected[0] == 0
    assert run("explain", program, folder / "history.parquet", "--customer", "c1") == expected


def test_the_history_format_option_reads_a_file_of_any_name(program: Path) -> None:
    folder = program.parent
    (folder / "export.txt").write_text(HISTORY, encoding="utf-8")
    expected = run("dry-run", program, folder / "history.csv")
    assert run("dry-run", program, folder / "export.txt", "--history-format", "csv") == expected
    code, _, err = run("dry-run", program, folder / "export.txt")
    assert code == 1
    assert "name it .csv, .jsonl, .json or .parquet, or give the format" in err


def test_a_dash_reads_csv_or_parquet_from_standard_input(program: Path) -> None:
    folder = program.parent
    expected = run("dry-run", program, folder / "history.csv")
    assert run("dry-run", program, "-", stdin=HISTORY.encode()) == expected
    parquet = (folder / "history.parquet").read_bytes()
    assert run("dry-run", program, "-", stdin=parquet) == expected
    told = run("dry-run", program, "-", "--history-format", "parquet", stdin=parquet)
    assert told == expected


def test_json_on_standard_input_needs_its_format(program: Path) -> None:
    line = (
        '{"type": "purchase", "id": "p1", "customer_id": "c1", "at": "2026-05-01T15:00:00Z", '
        '"lines": [{"sku": "cone", "category": "ice-cream", "quantity": 3, "unit_price": 3}]}\n'
    )
    assert run("dry-run", program, "-", stdin=line.encode()) == (
        1,
        "",
        "standard input looks like JSON; say which: --history-format jsonl or "
        "--history-format json\n",
    )
    code, out, _ = run("dry-run", program, "-", "--history-format", "jsonl", stdin=line.encode())
    assert code == 0
    assert "Customer c1" in out


def test_a_bad_row_on_standard_input_is_located_in_it(program: Path) -> None:
    code, out, err = run("dry-run", program, "-", stdin=HISTORY.replace("3.50", "3,50").encode())
    assert (code, out) == (1, "")
    assert err.startswith("<stdin>:3:1: ")


def test_an_evaluation_error_points_at_the_parquet_row(program: Path) -> None:
    folder = program.parent
    (folder / "bad.csv").write_text(HISTORY.replace(",p2\n", ",p9\n"), encoding="utf-8")
    pq.write_table(read_history_table(folder / "bad.csv"), folder / "bad.parquet")
    code, _, err = run("dry-run", program, folder / "bad.parquet")
    assert code == 1
    assert err.startswith(f"{folder / 'bad.parquet'}:5:1: event r1.purchase_id: it refunds")


def test_dry_run_with_the_batch_engine_prints_what_the_reference_prints() -> None:
    examples = Path(__file__).parent.parent / "rules" / "examples"
    arguments = [str(examples / "coffee-club.yaml"), str(examples / "coffee-club.history.csv")]
    reference = CliRunner().invoke(cli, ["dry-run", *arguments, "--format", "json"])
    batch = CliRunner().invoke(
        cli, ["dry-run", *arguments, "--format", "json", "--engine", "batch"]
    )
    assert (batch.exit_code, reference.exit_code) == (0, 0)
    assert batch.stdout == reference.stdout


def _pet_shop_grouped_treat(folder: Path) -> Path:
    """The pet shop with its birthday treat (a gift at a purchase) put in the shop's group."""
    examples = Path(__file__).parent.parent / "rules" / "examples"
    text = (examples / "pet-shop.yaml").read_text(encoding="utf-8")
    program = folder / "pet-shop.yaml"
    program.write_text(
        text.replace(
            "    requires_purchase: true\n",
            "    requires_purchase: true\n    exclusive_group: in-store-offers\n",
        ),
        encoding="utf-8",
    )
    return program


def test_dry_run_with_the_batch_engine_prints_what_the_reference_prints_of_a_grouped_gift(
    tmp_path: Path,
) -> None:
    # The treat competes in the group at a purchase in amy's birthday window (a-3), wins
    # over the punch card and the Saturday bonus, and the two engines say so alike.
    examples = Path(__file__).parent.parent / "rules" / "examples"
    program = _pet_shop_grouped_treat(tmp_path)
    arguments = [
        "dry-run",
        str(program),
        str(examples / "pet-shop.history.jsonl"),
        "--customers",
        str(examples / "pet-shop.customers.csv"),
        "--format",
        "json",
    ]
    reference = CliRunner().invoke(cli, arguments)
    batch = CliRunner().invoke(cli, [*arguments, "--engine", "batch"])
    assert (batch.exit_code, reference.exit_code) == (0, 0)
    assert batch.stdout == reference.stdout
    assert "went to 'birthday-treat'" in batch.stdout


def test_dry_run_with_the_batch_engine_names_what_it_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = Path(__file__).parent.parent / "rules" / "examples"
    batch_refuses(monkeypatch, "rule 'birthday-treat': a feature refused for this test")
    program = _pet_shop_grouped_treat(tmp_path)
    arguments = [str(program), str(examples / "pet-shop.history.jsonl")]
    result = CliRunner().invoke(cli, ["dry-run", *arguments, "--engine", "batch"])
    assert result.exit_code == 1
    assert "rule 'treat-card'" not in result.stderr  # its group runs in the batch engine
    assert "rule 'paws': limit" not in result.stderr  # limits run in the batch engine
    assert "rule 'refer-a-friend'" not in result.stderr  # gifts' limits run too
    assert (
        "the batch engine does not evaluate rule 'birthday-treat': a feature refused for "
        "this test yet; evaluate this program with engine='reference'" in result.stderr
    )
    assert "Traceback" not in result.output
