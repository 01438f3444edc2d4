"""``dry-run --format csv``: the date column, the points' money value, and the CSV style."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rewardrules.cli.main import cli

PROGRAM = """\
program: scoops
name: Scoops
currency: USD
timezone: America/Chicago
points:
  name: stars
  value: {value}
rules:
  - id: stars
    kind: points_per_spend
    points: 1
    per: 1.00
"""

# p2 is at 02:30 UTC on 3 May: 21:30 on 2 May in Chicago, so its date is the 2nd.
HISTORY = """\
event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id
p1,purchase,c1,2026-05-01T15:00:00-05:00,cone,ice-cream,2,3.00,
p2,purchase,c1,2026-05-03T02:30:00Z,water,drinks,1,1.25,
r1,refund,c1,2026-05-04T10:00:00-05:00,water,,1,,p2
"""


def dry_run(tmp_path: Path, value: str, *options: str) -> tuple[int, str, str]:
    program = tmp_path / "scoops.yaml"
    program.write_text(PROGRAM.format(value=value), encoding="utf-8")
    history = tmp_path / "history.csv"
    history.write_text(HISTORY, encoding="utf-8")
    arguments = ["dry-run", str(program), str(history), *options]
    result = CliRunner().invoke(cli, arguments)
    # stdout_bytes: Result.stdout would turn the CSV's CRLF line ends into LF.
    return result.exit_code, result.stdout_bytes.decode("utf-8"), result.stderr


def test_each_row_has_its_local_date_and_the_value_of_its_points(tmp_path: Path) -> None:
    # 6 stars at 0.015 = 0.09; 1 star = 0.015, rounded half away from zero to 0.02.
    code, out, _ = dry_run(tmp_path, "0.015", "--format", "csv")
    assert code == 0
    assert out == (
        "customer_id,event_id,rule,kind,points,value,units,reason,date,points_value\r\n"
        "c1,p1,stars,points,6,,,6.00 USD paid at 1 star per 1.00 USD: 6 stars,"
        "2026-05-01,0.09\r\n"
        "c1,p2,stars,points,1,,,1.25 USD paid at 1 star per 1.00 USD: 1 star,"
        "2026-05-02,0.02\r\n"
        'c1,r1,stars,points,-1,,,"refund of purchase p2: stars recomputed on 0.00 USD left, '
        '0 now instead of 1",2026-05-04,-0.02\r\n'
    )


def test_semicolons_and_decimal_commas_for_a_european_spreadsheet(tmp_path: Path) -> None:
    code, out, _ = dry_run(tmp_path, "0.015", "--format", "csv", "--csv-decimal-comma")
    assert code == 0
    assert out.splitlines()[:2] == [
        "customer_id;event_id;rule;kind;points;value;units;reason;date;points_value",
        "c1;p1;stars;points;6;;;6.00 USD paid at 1 star per 1.00 USD: 6 stars;2026-05-01;0,09",
    ]


def test_an_explicit_delimiter_wins_and_a_decimal_comma_cell_is_then_quoted(
    tmp_path: Path,
) -> None:
    options = ("--format", "csv", "--csv-decimal-comma", "--csv-delimiter", ",")
    code, out, _ = dry_run(tmp_path, "0.015", *options)
    assert code == 0
    assert out.splitlines()[1].endswith(',2026-05-01,"0,09"')
    code, out, _ = dry_run(tmp_path, "0.015", "--format", "csv", "--csv-delimiter", "\t")
    assert out.splitlines()[1].startswith("c1\tp1\tstars\tpoints\t6\t\t\t")


def test_without_points_value_the_money_column_is_empty(tmp_path: Path) -> None:
    code, out, _ = dry_run(tmp_path, "0", "--format", "csv")
    assert code == 0
    assert [row.rsplit(",", 2)[1:] for row in out.splitlines()[1:]] == [
        ["2026-05-01", ""],
        ["2026-05-02", ""],
        ["2026-05-04", ""],
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--csv-decimal-comma",), "Error: --csv-decimal-comma shapes the ledger of --format csv"),
        (
            ("--format", "csv", "--csv-delimiter", ";;"),
            "Error: Invalid value for '--csv-delimiter': give one character, such as ';' "
            "(got ';;')",
        ),
    ],
)
def test_csv_options_out_of_place_are_usage_errors(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    code, _, err = dry_run(tmp_path, "0.015", *options)
    assert code == 2
    assert message in err


EXAMPLES = Path(__file__).parent.parent / "rules" / "examples"


def test_a_program_that_reads_profiles_hints_at_customers_when_none_are_given() -> None:
    # pet-shop has a sign-up rule, two birthday rules and a referral rule: one line a kind.
    arguments = [
        "dry-run",
        str(EXAMPLES / "pet-shop.yaml"),
        str(EXAMPLES / "pet-shop.history.jsonl"),
    ]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0
    assert result.stderr == (
        "hint: the program has a sign-up rule; give --customers FILE with joined_at dates, "
        "or no sign-up bonuses are given\n"
        "hint: the program has a birthday rule; give --customers FILE with birthdays, "
        "or no birthday gifts are given\n"
        "hint: the program has a referral rule; give --customers FILE with referred_by, "
        "or no referral rewards are given\n"
    )
    customers = ["--customers", str(EXAMPLES / "pet-shop.customers.csv")]
    assert CliRunner().invoke(cli, [*arguments, *customers]).stderr == ""


def test_a_program_without_such_rules_gives_no_hint(tmp_path: Path) -> None:
    code, _, err = dry_run(tmp_path, "0.01")
    assert code == 0
    assert err == ""


BIG_PROGRAM = """\
program: travel
name: Travel
currency: USD
timezone: UTC
points:
  name: miles
  value: 0.10
rules:
  - id: miles
    kind: points_per_spend
    points: 10
    per: 1.00
"""


def test_tables_group_thousands_in_counts_and_amounts(tmp_path: Path) -> None:
    program = tmp_path / "travel.yaml"
    program.write_text(BIG_PROGRAM, encoding="utf-8")
    history = tmp_path / "history.csv"
    history.write_text(
        "event_id,type,customer_id,at,sku,category,quantity,unit_price,purchase_id\n"
        "b1,purchase,ann,2026-05-01T10:00:00Z,fare,fares,1,1234.50,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["dry-run", str(program), str(history)])
    assert result.exit_code == 0
    # 1,234.50 USD at 10 miles per 1.00 USD: 12,345 miles, worth 1,234.50 USD. The reason
    # is the ledger's own text (as in the JSON) and keeps its plain numbers.
    assert result.stdout.splitlines()[2:5] == [
        "Customer ann: 12,345 miles",
        "  event  rule   reward         reason",
        "  b1     miles  +12,345 miles  1234.50 USD paid at 10 miles per 1.00 USD: 12345 miles",
    ]
    assert "  gross spend     1,234.50 USD" in result.stdout.splitlines()
    assert (
        "  miles issued    12,345 (-0 by refunds, net 12,345, cost 1,234.50 USD)"
        in result.stdout.splitlines()
    )
    summary = CliRunner().invoke(cli, ["dry-run", str(program), str(history), "--summary"])
    assert summary.stdout.splitlines()[3:5] == [
        "  rule   entries  points net  redeemed  expired  value given (USD)  cost (USD)",
        "  miles        1      12,345         0        0               0.00    1,234.50",
    ]
