"""The HTML pages of ``report`` and ``compare``: one self-contained file with charts.

Charts are plotly figures with plotly.js inlined once (``include_plotlyjs=True``), so the
page opens offline and asks no server for anything; docs/cost.md says why plotly. Chart
values are floats for drawing only; every number a reader reads in a table is the exact
Decimal, with the currency's symbol and thousands separators. Tables sort on a click of
their header (a few lines of inline JavaScript, by each cell's ``data-sort`` value).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Final

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]

from rewardrules.money import Currency
from rewardrules.tools.compare import MONEY_FIGURES, Comparison, Difference
from rewardrules.tools.report import Report

SYMBOLS: Final = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.75rem; border-bottom: 1px solid #ddd; }
th { cursor: pointer; background: #f4f4f4; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.chart { max-width: 1000px; }
"""
_SORT: Final = """
document.querySelectorAll("table.sortable th").forEach(function (header) {
  header.addEventListener("click", function () {
    var column = header.cellIndex;
    var table = header.closest("table"), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = header.dataset.order !== "up";
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
      var numbers = a.cells[column].classList.contains("number");
      var c = numbers ? Number(x) - Number(y) : x.localeCompare(y);
      return up ? c : -c;
    });
    header.dataset.order = up ? "up" : "down";
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def money_text(money: Currency, minor: int, signed: bool = False) -> str:
    """``$1,234.50``, or ``1,234.50 CHF`` for a currency without a symbol here; with
    ``signed`` a change: ``+$5.00``, ``-$1.80``, ``+$0.00``."""
    amount = money.to_decimal(minor)
    sign = "-" if amount < 0 else "+" if signed else ""
    symbol = SYMBOLS.get(money.code)
    if symbol is None:
        return f"{sign}{abs(amount):,} {money.code}"
    return f"{sign}{symbol}{abs(amount):,}"


def _float(money: Currency, minor: int) -> float:
    return float(money.to_decimal(minor))


class _Page:
    """Parts of a page: headings, tables and charts, the plotly.js bundle once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        self.charts = 0

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def table(self, head: Sequence[str], rows: Sequence[Sequence[tuple[str, str | int]]]) -> None:
        """Rows of (shown text, sort key) cells; a cell whose key is a number is right-aligned."""
        cells = "".join(f"<th>{html.escape(title)}</th>" for title in head)
        lines = []
        for row in rows:
            shown = "".join(
                f'<td class="{"number" if isinstance(key, int) else "text"}" '
                f'data-sort="{html.escape(str(key))}">{html.escape(text)}</td>'
                for text, key in row
            )
            lines.append(f"<tr>{shown}</tr>")
        self.parts.append(
            f'<table class="sortable"><thead><tr>{cells}</tr></thead>'
            f"<tbody>{''.join(lines)}</tbody></table>"
        )

    def chart(self, figure: Any) -> None:
        figure.update_layout(template="plotly_white", height=380, margin={"t": 50})
        self.parts.append(
            '<div class="chart">'
            + pio.to_html(
                figure,
                include_plotlyjs=self.charts == 0,
                full_html=False,
                config={"displaylogo": False, "responsive": True},
            )
            + "</div>"
        )
        self.charts += 1

    def render(self) -> str:
        body = "\n".join(self.parts)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>"
            f"<body>\n{body}\n<script>{_SORT}</script></body></html>\n"
        )


def report_html(found: Report) -> str:
    """The report as one self-contained HTML page (docs/cost.md)."""
    money = found.money
    page = _Page(f"{found.name}: what it costs")

    def cash(minor: int) -> tuple[str, int]:
        return money_text(money, minor), minor

    def count(number: int) -> tuple[str, int]:
        return f"{number:,}", number

    points = found.points
    page.table(
        ["figure", "value"],
        [
            [("value given now", "a"), cash(found.value_given)],
            [
                (f"liability ({points.outstanding:,} {found.points_name})", "b"),
                cash(points.liability),
            ],
            [("cost (value given + liability)", "c"), cash(found.cost)],
            [(f"breakage ({points.expired:,} expired, not a cost)", "d"), cash(points.breakage)],
        ],
    )
    months = [month.month for month in found.months]
    page.heading("Cost per month, by rule")
    figure = go.Figure()
    rules = [rule.rule for rule in found.rules if rule.source == "rule"]
    for rule in rules:
        values = [_float(money, month.by_rule.get(rule, 0)) for month in found.months]
        figure.add_trace(go.Bar(name=rule, x=months, y=values))
    other = [_float(money, month.cost - sum(month.by_rule.values())) for month in found.months]
    figure.add_trace(go.Bar(name="redemptions, expiry and liability change", x=months, y=other))
    figure.update_layout(barmode="relative", yaxis_title=money.code)
    page.chart(figure)
    page.heading(f"{found.points_name.capitalize()} per month, with the liability")
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            name="issued", x=months, y=[m.points_issued - m.points_reversed for m in found.months]
        )
    )
    figure.add_trace(go.Bar(name="redeemed", x=months, y=[m.points_redeemed for m in found.months]))
    figure.add_trace(go.Bar(name="expired", x=months, y=[m.points_expired for m in found.months]))
    figure.add_trace(
        go.Scatter(
            name=f"liability ({money.code})",
            x=months,
            y=[_float(money, m.liability) for m in found.months],
            yaxis="y2",
            mode="lines+markers",
        )
    )
    figure.update_layout(
        barmode="group",
        yaxis_title=found.points_name,
        yaxis2={"title": money.code, "overlaying": "y", "side": "right"},
    )
    page.chart(figure)
    if found.tier_mix:
        page.heading("Tier mix over time")
        figure = go.Figure()
        tiers: list[str | None] = list(found.tier_mix[0][1])
        for tier in tiers:
            figure.add_trace(
                go.Bar(
                    name=tier or "(no tier)",
                    x=[month for month, _ in found.tier_mix],
                    y=[mix.get(tier, 0) for _, mix in found.tier_mix],
                )
            )
        figure.update_layout(barmode="stack", yaxis_title="customers")
        page.chart(figure)
    page.heading("Cost per customer")
    figure = go.Figure(
        go.Histogram(x=[_float(money, customer.cost) for customer in found.customers], nbinsx=30)
    )
    figure.update_layout(xaxis_title=money.code, yaxis_title="customers", showlegend=False)
    page.chart(figure)
    page.heading("Per rule")
    page.table(
        ["rule", "rewards", "units", "value", f"{found.points_name} (net)", "cost"],
        [
            [
                (rule.rule if rule.source == "rule" else f"{rule.rule} ({rule.source})", rule.rule),
                count(rule.rewards),
                count(rule.units),
                cash(rule.value),
                count(rule.points_net),
                cash(rule.cost),
            ]
            for rule in found.rules
        ],
    )
    page.heading("Per month")
    page.table(
        [
            "month",
            "value given",
            "issued",
            "redeemed",
            "expired",
            "outstanding",
            "liability",
            "cost",
        ],
        [
            [
                (month.month, month.month),
                cash(month.value_given),
                count(month.points_issued - month.points_reversed),
                count(month.points_redeemed),
                count(month.points_expired),
                count(month.balance),
                cash(month.liability),
                cash(month.cost),
            ]
            for month in found.months
        ],
    )
    if found.tiers:
        page.heading("Per tier")
        page.table(
            ["tier", "members", "spend", "cost"],
            [
                [
                    (tier.tier or "(no tier)", tier.tier or ""),
                    count(tier.members),
                    cash(tier.spend),
                    cash(tier.cost),
                ]
                for tier in found.tiers
            ],
        )
    page.heading("Top 10 customers by cost")
    page.table(
        ["customer", "cost", found.points_name, "tier"],
        [
            [
                (customer.customer_id, customer.customer_id),
                cash(customer.cost),
                count(customer.points),
                (customer.tier or "", customer.tier or ""),
            ]
            for customer in found.top()
        ],
    )
    if found.expiry:
        page.heading("Expiring soon")
        page.table(
            ["month", found.points_name, "value", "customers"],
            [
                [
                    (month.month, month.month),
                    count(month.points),
                    cash(month.value),
                    count(len(month.customers)),
                ]
                for month in found.expiry
            ],
        )
    return page.render()


def compare_html(found: Comparison) -> str:
    """The comparison as one self-contained HTML page (docs/cost.md)."""
    money = found.new.money
    page = _Page(
        f"{found.old.name} ({found.old.program}) -> {found.new.name} ({found.new.program})"
    )

    def cells(row: Difference, is_money: bool) -> list[tuple[str, str | int]]:
        name = row.key if row.status == "both" else f"{row.key} ({row.status})"
        if is_money:
            return [
                (name, row.key),
                (money_text(money, row.old), row.old),
                (money_text(money, row.new), row.new),
                (money_text(money, row.change, signed=True), row.change),
            ]
        return [
            (name, row.key),
            (f"{row.old:,}", row.old),
            (f"{row.new:,}", row.new),
            (f"{row.change:+,}", row.change),
        ]

    head = ["", "old", "new", "change"]
    page.heading("Program")
    page.table(head, [cells(row, row.key in MONEY_FIGURES) for row in found.program])
    page.heading("Cost per rule")
    page.table(head, [cells(row, True) for row in found.rules])
    page.text(
        f"{len(found.gaining):,} customers gain, {len(found.losing):,} lose, "
        f"{found.unchanged:,} unchanged."
    )
    page.heading("Change of cost per customer")
    figure = go.Figure(
        go.Histogram(x=[_float(money, row.change) for row in found.customers], nbinsx=30)
    )
    figure.update_layout(xaxis_title=money.code, yaxis_title="customers", showlegend=False)
    page.chart(figure)
    page.heading("Tier migration")
    olds = sorted({old for old, _ in found.tiers}, key=str)
    news = sorted({new for _, new in found.tiers}, key=str)
    figure = go.Figure(
        go.Heatmap(
            z=[[found.tiers.get((old, new), 0) for new in news] for old in olds],
            x=[new or "(no tier)" for new in news],
            y=[old or "(no tier)" for old in olds],
            colorscale="Blues",
            texttemplate="%{z}",
        )
    )
    figure.update_layout(xaxis_title="new tier", yaxis_title="old tier")
    page.chart(figure)
    page.heading("Top 10 gaining")
    page.table(head, [cells(row, True) for row in found.gaining[:10]])
    page.heading("Top 10 losing")
    page.table(head, [cells(row, True) for row in found.losing[:10]])
    page.heading("Cost per month")
    page.table(head, [cells(row, True) for row in found.months])
    return page.render()
