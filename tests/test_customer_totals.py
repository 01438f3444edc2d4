"""``dry-run --customer tom`` ends with "Totals for customer tom", not the program's."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rewardrules.cli.main import cli

PROGRAM = """\
program: tea-club
name: Tea Club
currency: USD
timezone: UTC
points:
  value: 0.01
rules:
  - id: earn
    kind: points_per_spend
    points: 1
    per: 1.00
"""
HISTORY = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id
p1,purchase,tom,2026-03-02T09:00:00+00:00,tea,tea,1,10.00,
p2,purchase,ann,2026-03-02T10:00:00+00:00,tea,tea,1,7.00,
p3,purchase,tom,2026-03-03T09:00:00+00:00,tea,tea,1,5.00,
"""


def dry_run(tmp_path: Path, *options: str) -> str:
    program, history = tmp_path / "tea.yaml", tmp_path / "tea.csv"
    program.write_text(PROGRAM, encoding="utf-8")
    history.write_text(HISTORY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["dry-run", str(program), str(history), *options])
    assert result.exit_code == 0, result.output
    return result.output


def test_one_customers_totals_say_whose_they_are(tmp_path: Path) -> None:
    output = dry_run(tmp_path, "--customer", "tom")
    totals = output[output.index("Totals for customer tom") :]
    assert totals == (
        "Totals for customer tom\n"
        "  customers       1\n"
        "  purchases       2, none refunded\n"
        "  gross spend     15.00 USD\n"
        "  points issued   15 (-0 by refunds, net 15, cost 0.15 USD)\n"
        "  discounts       0.00 USD on 0 units\n"
        "  free items      0.00 USD (0 units)\n"
        "  vouchers        0 worth 0.00 USD\n"
        "  gift cards      0 worth 0.00 USD\n"
        "  liability       0.15 USD (15 points outstanding)\n"
        "  estimated cost  0.15 USD (value given 0.00 USD + liability 0.15 USD)\n"
    )
    assert "Program totals" not in output


def test_everybodys_totals_are_the_programs(tmp_path: Path) -> None:
    output = dry_run(tmp_path)
    assert "\nProgram totals\n  customers       2\n  purchases       3, none refunded\n" in output
    assert "Totals for customer" not in output
