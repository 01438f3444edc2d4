"""The first hour of a new user: a shop's export, as it comes, to a dry-run in one command.

The export is what a European shop system writes: cells separated by ';', amounts with a
decimal comma, Windows text (cp1252), times without an offset in the shop's own time zone,
and its own column names. A customers file comes from another tool in the same dialect.
Nothing is converted by hand: one ``rewardrules dry-run`` command, run as a user runs it (the
installed module, in a new process), reads both and gives the numbers checked below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROGRAM = """\
program: la-boulangerie
name: La Boulangerie
currency: EUR
timezone: Europe/Paris
points:
  name: points
  value: 0.01
rules:
  - id: points
    kind: points_per_spend
    points: 1
    per: 1.00
  - id: birthday
    kind: birthday
    points: 50
"""

# Columns as the shop names them. Times are Paris wall-clock times: 2026-03-29 is the night
# clocks go forward, so its 03:30 is 01:30 UTC; 2026-03-31 23:30 is still March 31st in Paris.
EXPORT = (
    "Bestellnr.;Art;Kundennr.;Datum;Artikel;Warengruppe;Menge;Preis;Storno von\r\n"
    "B-1;purchase;zoé;2026-03-02 08:15;croissant;viennoiserie;2;1,20;\r\n"
    "B-1;purchase;zoé;2026-03-02 08:15;café crème;boissons;1;3,50;\r\n"
    "B-2;purchase;léon;2026-03-29 03:30;tarte;pâtisserie;1;24,00;\r\n"
    "B-3;refund;léon;2026-03-30 10:00;;;;;B-2\r\n"
    "B-4;purchase;zoé;2026-03-31 23:30;baguette;pain;3;1,10;\r\n"
    "B-5;purchase;léon;2026-04-01 00:30;baguette;pain;1;1,10;\r\n"
)
CUSTOMERS = "customer_id;birthday;joined_at\r\nzoé;03-14;2026-01-05 09:00\r\nléon;07-01;\r\n"
COLUMNS = (
    "id=Bestellnr.,type=Art,customer_id=Kundennr.,at=Datum,sku=Artikel,"
    "category=Warengruppe,quantity=Menge,unit_price=Preis,purchase_id=Storno von"
)


def test_an_export_as_it_comes_dry_runs_in_one_command(tmp_path: Path) -> None:
    (tmp_path / "boulangerie.yaml").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "export.csv").write_bytes(EXPORT.encode("cp1252"))
    (tmp_path / "customers.csv").write_bytes(CUSTOMERS.encode("cp1252"))
    done = subprocess.run(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable,
            "-m",
            "rewardrules",
            "dry-run",
            "boulangerie.yaml",
            "export.csv",
            "--customers",
            "customers.csv",
            "--columns",
            COLUMNS,
            "--local-times",
            "--as-of",
            "2026-03-31",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.stderr.splitlines() == [
        "customers.csv: read as ';'-separated, cp1252 (detected)",
        "export.csv: read as ';'-separated, decimal commas, cp1252 (detected)",
    ]
    assert done.returncode == 0
    result = json.loads(done.stdout)
    customers = {customer["customer_id"]: customer for customer in result["customers"]}
    # zoé: 2 x 1,20 + 3,50 = 5.90 -> 5 points; on 31 March at 23:30 in Paris (21:30 UTC, in
    # --as-of 2026-03-31) 3 x 1,10 = 3.30 -> 3 points; her birthday on 14 March: 50 points.
    assert customers["zoé"]["points"] == 5 + 3 + 50
    # léon: the tarte at 03:30 local time (01:30 UTC), refunded the next day: 24 points given
    # and taken back. His baguette of 1 April at 00:30 in Paris is after --as-of.
    assert customers["léon"]["points"] == 0
    totals = result["totals"]
    assert (totals["purchases"], totals["refunds"]) == (3, 1)
    assert totals["gross_spend"] == "33.20"  # 5.90 + 24.00 + 3.30
    assert totals["points_issued"] == 5 + 24 + 3 + 50
    assert totals["points_reversed"] == 24
    assert totals["points_cost"] == "0.58"  # the 58 points kept, at 0.01 EUR
