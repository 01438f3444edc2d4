"""The command line: exact output and exit codes, run through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli import _support as cli_support
from rewardrules.cli.main import cli
from rewardrules.errors import Location
from rewardrules.histories.read import locate_event

PROGRAM = """\
program: scoops
name: Scoops
currency: USD
timezone: America/Chicago
points:
  name: stars
  value: 0.01
rules:
  - id: stars
    kind: points_per_spend
    points: 1
    per: 1.00
  - id: cone-card
    kind: every_nth_free
    every: 3
    when:
      categories: [ice-cream]
"""

HISTORY = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id
p1,purchase,c1,2026-05-01T15:00:00-05:00,cone,ice-cream,2,3.00,
p2,purchase,c1,2026-05-02T15:00:00-05:00,cone,ice-cream,1,3.50,
p2,purchase,c1,2026-05-02T15:00:00-05:00,water,drinks,1,1.25,
p3,purchase,c2,2026-05-03T12:00:00-05:00,cone,ice-cream,1,3.00,
r1,refund,c1,2026-05-04T10:00:00-05:00,water,,1,,p2
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    program = tmp_path / "scoops.yaml"
    program.write_text(PROGRAM, encoding="utf-8")
    history = tmp_path / "history.csv"
    history.write_text(HISTORY, encoding="utf-8")
    return program, history


def run(*arguments: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(argument) for argument in arguments])
    return result.exit_code, result.stdout, result.stderr


def test_validate_says_ok_with_the_program_name_and_rule_count(files: tuple[Path, Path]) -> None:
    program, _ = files
    assert run("validate", program) == (0, f"{program}: OK (Scoops, 2 rules)\n", "")


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        PROGRAM.replace("every: 3", "every: 1").replace("categories:", "categroies:"),
        encoding="utf-8",
    )
    code, out, err = run("validate", broken)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"{broken}:15:12: rules[1].every: must be at least 2 (got 1)",
        "        every: 1",
        "               ^",
        f"{broken}:17:7: rules[1].when.categroies: unknown key 'categroies' "
        "(did you mean 'categories'?)",
        "          categroies: [ice-cream]",
        "          ^",
    ]


def test_validate_checks_every_file_even_after_a_bad_one(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    program, _ = files
    missing = tmp_path / "missing.yaml"
    code, out, err = run("validate", missing, program)
    assert code == 1
    assert out == f"{program}: OK (Scoops, 2 rules)\n"
    assert str(missing) in err


def test_dry_run_table_shows_each_reward_and_the_totals(files: tuple[Path, Path]) -> None:
    program, history = files
    code, out, err = run("dry-run", program, history)
    assert (code, err) == (0, "")
    # c1: p1 2 cones 6.00 -> 6 stars; p2 3rd cone free (3.50), water 1.25 -> 1 star;
    # r1 refunds the water: p2's stars recomputed on 0.00 -> 0, so -1; p2 keeps its cone,
    # so it is refunded in part.
    # c2: p3 one cone 3.00 -> 3 stars. Cost: 9 stars x 0.01 + 3.50 free = 3.59.
    assert out.splitlines() == [
        "Scoops (scoops) - USD, stars worth 0.01 USD each",
        "",
        "Customer c1: 6 stars, stamps cone-card 0/3",
        "  event  rule       reward             reason",
        "  p1     stars      +6 stars           6.00 USD paid at 1 star per 1.00 USD: 6 stars",
        "  p2     cone-card  1 free (3.50 USD)  3rd ice-cream of the card: cheapest ice-cream"
        " free (3.50 USD)",
        "  p2     stars      +1 star            1.25 USD paid at 1 star per 1.00 USD: 1 star",
        "  r1     stars      -1 star            refund of purchase p2: stars recomputed on"
        " 0.00 USD left, 0 now instead of 1",
        "",
        "Customer c2: 3 stars, stamps cone-card 1/3",
        "  event  rule   reward    reason",
        "  p3     stars  +3 stars  3.00 USD paid at 1 star per 1.00 USD: 3 stars",
        "",
        "Program totals",
        "  customers       2",
        "  purchases       3, 1 of them refunded: 1 in part (1 refund)",
        "  gross spend     13.75 USD",
        "  stars issued    10 (-1 by refunds, net 9, cost 0.09 USD)",
        "  discounts       0.00 USD on 0 units",
        "  free items      3.50 USD (1 unit)",
        "  vouchers        0 worth 0.00 USD",
        "  gift cards      0 worth 0.00 USD",
        # 9 stars still held at 0.01 USD each, and the free cone.
        "  liability       0.09 USD (9 stars outstanding)",
        "  estimated cost  3.59 USD (value given 3.50 USD + liability 0.09 USD)",
    ]


def test_dry_run_json_follows_the_contract(files: tuple[Path, Path]) -> None:
    program, history = files
    code, out, _ = run("dry-run", program, history, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["program"] == "scoops"
    assert document["currency"] == "USD"
    first = document["customers"][0]
    assert (first["customer_id"], first["points"], first["tier"]) == ("c1", 6, None)
    assert first["stamps"] == {"cone-card": 0}
    assert first["ledger"][1] == {
        "event_id": "p2",
        "rule": "cone-card",
        "kind": "free",
        "points": None,
        "value": "3.50",
        "units": 1,
        "reason": "3rd ice-cream of the card: cheapest ice-cream free (3.50 USD)",
    }
    assert document["totals"]["points_net"] == 9
    assert document["totals"]["estimated_cost"] == "3.59"


def test_dry_run_as_of_ignores_later_events(files: tuple[Path, Path]) -> None:
    program, history = files
    code, out, _ = run("dry-run", program, history, "--format", "json", "--as-of", "2026-05-02")
    assert code == 0
    document = json.loads(out)
    # The whole local day of 2026-05-02 counts (p2 at 15:00 Chicago); p3 and r1 are later.
    assert [customer["customer_id"] for customer in document["customers"]] == ["c1"]
    assert document["customers"][0]["points"] == 7


def test_dry_run_for_one_customer(files: tuple[Path, Path]) -> None:
    program, history = files
    code, out, _ = run("dry-run", program, history, "--format", "json", "--customer", "c2")
    assert code == 0
    document = json.loads(out)
    assert [customer["customer_id"] for customer in document["customers"]] == ["c2"]
    assert document["totals"]["purchases"] == 1


def test_dry_run_for_an_unknown_customer_says_so(files: tuple[Path, Path]) -> None:
    program, history = files
    code, _, err = run("dry-run", program, history, "--customer", "nobody")
    assert code == 1
    assert err == f"{history}: no events of customer 'nobody'\n"


def test_a_bad_as_of_is_a_usage_error(files: tuple[Path, Path]) -> None:
    program, history = files
    code, _, err = run("dry-run", program, history, "--as-of", "yesterday")
    assert code == 2
    assert "'yesterday' is not a date (2026-03-31)" in err


def test_a_naive_as_of_timestamp_is_a_usage_error(files: tuple[Path, Path]) -> None:
    program, history = files
    code, _, err = run("dry-run", program, history, "--as-of", "2026-05-02T10:00:00")
    assert code == 2
    assert "has no UTC offset" in err


def test_a_bad_history_row_is_shown_with_its_file_and_exits_1(files: tuple[Path, Path]) -> None:
    program, history = files
    history.write_text(HISTORY.replace("2,3.00,", "2,three,"), encoding="utf-8")
    code, out, err = run("dry-run", program, history)
    assert code == 1
    assert out == ""
    assert err.startswith(f"{history}:2:")
    assert "Traceback" not in err


def test_a_refund_of_an_unknown_purchase_names_the_event(files: tuple[Path, Path]) -> None:
    program, history = files
    history.write_text(HISTORY.replace(",p2\n", ",p9\n"), encoding="utf-8")
    code, out, err = run("dry-run", program, history)
    assert (code, out) == (1, "")
    assert err == (
        f"{history}:6:1: event r1.purchase_id: it refunds purchase p9, but customer c1 has no "
        "such purchase before it; check the purchase id, and that the refund comes after its "
        "purchase\n"
    )


def test_an_evaluation_error_in_a_json_history_points_at_the_events_brace(
    files: tuple[Path, Path],
) -> None:
    program, _ = files
    history = program.parent / "history.json"
    history.write_text(
        '{"events": [\n'
        '  {"type": "purchase", "id": "p1", "customer_id": "c1", "at": "2026-05-01T15:00:00Z",\n'
        '   "lines": [{"sku": "cone", "quantity": 1, "unit_price": "3.005"}]}\n'
        "]}\n",
        encoding="utf-8",
    )
    code, _, err = run("dry-run", program, history)
    assert code == 1
    assert err.startswith(f"{history}:2:3: event p1.lines[0].unit_price: ")


def test_only_a_failed_dry_run_reads_the_history_again(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    program, history = files
    calls: list[tuple[Path, str]] = []

    def spy(path: Path, event_id: str, **options: str) -> Location | None:
        calls.append((path, event_id))
        return locate_event(path, event_id, **options)

    monkeypatch.setattr(cli_support, "locate_event", spy)
    assert run("dry-run", program, history)[0] == 0
    assert calls == []
    history.write_text(HISTORY.replace(",p2\n", ",p9\n"), encoding="utf-8")
    assert run("dry-run", program, history)[0] == 1
    assert calls == [(history, "r1")]


def test_an_event_no_longer_in_the_history_is_named_without_a_place(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    program, history = files
    history.write_text(HISTORY.replace(",p2\n", ",p9\n"), encoding="utf-8")
    monkeypatch.setattr(cli_support, "locate_event", lambda _path, _event_id, **_options: None)
    code, _, err = run("dry-run", program, history)
    assert code == 1
    assert err.startswith("event r1.purchase_id: it refunds purchase p9, but customer c1 has no")


def test_a_broken_program_stops_the_dry_run_with_exit_1(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, history = files
    broken = tmp_path / "broken.yaml"
    broken.write_text(PROGRAM.replace("currency: USD", "currency: XYZ"), encoding="utf-8")
    code, _, err = run("dry-run", broken, history)
    assert code == 1
    assert err.startswith(f"{broken}:3:11: currency: ")


def test_python_dash_m_runs_the_same_command(files: tuple[Path, Path]) -> None:
    program, _ = files
    done = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [sys.executable, "-m", "rewardrules", "validate", str(program)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, f"{program}: OK (Scoops, 2 rules)\n")


def test_importing_the_library_does_not_import_the_command_line() -> None:
    code = (
        "import sys, rewardrules; "
        "print('click' in sys.modules, 'rewardrules.cli.main' in sys.modules)"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter and arguments
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout == "False False\n"


def test_a_semicolon_export_with_decimal_commas_is_detected_and_said(
    files: tuple[Path, Path],
) -> None:
    program, history = files
    history.write_text(
        "event_id;type;customer_id;at;sku;category;quantity;unit_price;purchase_id\n"
        "p1;purchase;c1;2026-05-01T15:00:00-05:00;cone;ice-cream;2;3,50;\n",
        encoding="utf-8",
    )
    for engine in ("reference", "batch"):
        code, out, err = run("dry-run", program, history, "--format", "json", "--engine", engine)
        assert (code, err) == (0, f"{history}: read as ';'-separated, decimal commas (detected)\n")
        # 2 cones at 3,50 = 7.00 -> 7 stars
        assert json.loads(out)["customers"][0]["points"] == 7
    code, out, err = run(
        "dry-run", program, history, "--delimiter", ";", "--decimal-comma", "--format", "json"
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["customers"][0]["points"] == 7


def test_an_explicit_option_wins_over_detection(files: tuple[Path, Path]) -> None:
    program, history = files
    history.write_text(
        "event_id;type;customer_id;at;sku;category;quantity;unit_price;purchase_id\n"
        "p1;purchase;c1;2026-05-01T15:00:00-05:00;cone;ice-cream;2;3,50;\n",
        encoding="utf-8",
    )
    code, _, err = run("dry-run", program, history, "--delimiter", ",")
    assert code == 1
    assert err.startswith(f"{history}:1:1: the header is separated by ';', not ','")
    code, _, err = run("dry-run", program, history, "--decimal-point")
    assert code == 1
    assert err.startswith(
        f"{history}: read as ';'-separated (detected)\n"
        f"{history}:2:1: unit_price: must be an amount like 4.50"
    )


def test_dry_run_csv_neutralises_cells_a_spreadsheet_would_run(
    files: tuple[Path, Path],
) -> None:
    program, history = files
    history.write_text(HISTORY.replace(",c2,", ",=HYPERLINK(x),"), encoding="utf-8")
    code, out, _ = run("dry-run", program, history, "--format", "csv")
    assert code == 0
    rows = out.splitlines()
    assert rows[0] == "customer_id,event_id,rule,kind,points,value,units,reason,date,points_value"
    # Customers are sorted as text, so the hostile id comes first; its cell is quoted.
    assert rows[1] == (
        "'=HYPERLINK(x),p3,stars,points,3,,,3.00 USD paid at 1 star per 1.00 USD: 3 stars,"
        "2026-05-03,0.03"
    )
    # A negative number of points stays a number: it is not text a spreadsheet would run.
    assert any(row.startswith("c1,r1,stars,points,-1,,,") for row in rows)


def test_one_customers_dry_run_with_a_referral_rule_counts_their_friends_purchases(
    tmp_path: Path,
) -> None:
    program = tmp_path / "friends.yaml"
    program.write_text(
        PROGRAM.split("rules:\n", maxsplit=1)[0]
        + "rules:\n  - id: friends\n    kind: referral\n"
        + "    referrer: {points: 500}\n    referred: {points: 200}\n",
        encoding="utf-8",
    )
    history = tmp_path / "history.csv"
    history.write_text(
        HISTORY.splitlines()[0]
        + "\np1,purchase,c1,2026-05-01T15:00:00-05:00,cone,ice-cream,2,3.00,"
        + "\nf1,purchase,c9,2026-05-02T15:00:00-05:00,cone,ice-cream,1,3.00,\n",
        encoding="utf-8",
    )
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,referred_by\nc1,\nc9,c1\n", encoding="utf-8")
    arguments = ("dry-run", program, history, "--customers", customers, "--format", "json")
    code, out, _ = run(*arguments, "--customer", "c1")
    assert code == 0
    (customer,) = json.loads(out)["customers"]
    assert (customer["customer_id"], customer["points"]) == ("c1", 500)
