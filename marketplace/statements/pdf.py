"""A statement as a plain PDF (fpdf2, the built-in Helvetica, A4, as many pages as it takes).

The built-in fonts are Latin-1, which covers Spanish (á é í ó ú ü ñ ¿ ¡): the few typographic
characters outside it are replaced. The content streams are left uncompressed: statements are
small, and their text stays searchable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableCellFillMode

from marketplace.statements.services import Statement, day_label, month_label

_REPLACEMENTS = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "•": "*",
        "→": "->",
        "✓": "OK",
        "✗": "X",
        "\u202f": " ",
    }
)


def latin1(text: str) -> str:
    """Text the built-in fonts can draw."""
    return text.translate(_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    """A4 portrait with a page footer."""

    page_word = "Page"
    footer_text = ""

    def footer(self) -> None:
        """The payee and period, and the page number."""
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, latin1(f"{self.footer_text} - {self.page_word} {self.page_no()}"),
                  align="C")


def statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes."""
    w, lang = statement.labels, statement.lang
    pdf = _Document(orientation="portrait", unit="mm", format="A4")
    pdf.set_compression(False)
    pdf.set_creation_date(statement.generated_at)
    pdf.set_title(latin1(f"{statement.title} {statement.payee} {statement.period}"))
    pdf.set_author("Oro de Poto")
    pdf.page_word = w["page"]
    pdf.footer_text = latin1(f"{statement.payee} - {statement.period}")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 7, latin1(statement.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    payee_word = w[f"payee_{statement.side.name}"]
    for text in (
        f"{payee_word}: {statement.payee}",
        f"{w['period']}: {month_label(statement.period, lang)} ({statement.period})",
        f"{w['currency']}: {statement.currency}",
        f"{w['generated']}: {statement.generated_at:%Y-%m-%d %H:%M} UTC",
    ):
        pdf.multi_cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font("Helvetica", size=10)
    with pdf.table(
        col_widths=(70, 40),
        width=110,
        align="LEFT",
        text_align=("LEFT", "RIGHT"),
        first_row_as_headings=False,
        line_height=6,
    ) as table:
        for i, (label, amount) in enumerate(statement.summary()):
            row = table.row()
            bold = i in (0, 4)
            pdf.set_font("Helvetica", "B" if bold else "", 10)
            row.cell(latin1(label))
            row.cell(latin1(statement.money(amount)))
        pdf.set_font("Helvetica", size=10)
    pdf.ln(2)
    pdf.set_font("Helvetica", "I", 8)
    note = w["note"] if statement.side.name == "cooperative" else w["note_jeweller"]
    pdf.multi_cell(0, 4, latin1(note), new_x="LMARGIN", new_y="NEXT")
    if not statement.lines_agree:
        pdf.set_font("Helvetica", "B", 9)
        pdf.multi_cell(0, 5, latin1(w["mismatch"]), new_x="LMARGIN", new_y="NEXT")

    _section(pdf, w["sales"])
    if statement.sales:
        coop = statement.side.name == "cooperative"
        headings = (
            [w["date"], w["order"], w["line"], w["piece"], w["jeweller"], w["lot"], w["fine_g"],
             w["amount"]]
            if coop
            else [w["date"], w["order"], w["line"], w["piece"], w["amount"]]
        )
        widths = (20, 24, 10, 44, 32, 24, 16, 20) if coop else (22, 28, 12, 98, 30)
        with _table(pdf, widths) as table:
            table.row([latin1(h) for h in headings])
            for r in statement.sales:
                cells = [day_label(r.at, lang), r.order_number, str(r.line_no or "-"), r.piece]
                if coop:
                    cells += [
                        r.jeweller,
                        r.lot,
                        "" if r.fine_mg is None else f"{Decimal(r.fine_mg) / 1000:.3f}",
                    ]
                cells.append(statement.money(r.amount))
                table.row([latin1(c) for c in cells])
            total = [""] * (len(headings) - 1) + [statement.money(statement.sales_total)]
            table.row([latin1(c) for c in total])
    else:
        _none(pdf, w)

    for heading, moves, sign in (
        (w["refund_rows"], statement.refunds, "net"),
        (w["payout_rows"], statement.payout_moves, "payout"),
    ):
        _section(pdf, heading)
        if not moves:
            _none(pdf, w)
            continue
        with _table(pdf, (22, 30, 108, 30)) as table:
            table.row([latin1(w[k]) for k in ("date", "lot", "detail", "amount")])
            for m in moves:
                amount = m.net if sign == "net" else -m.payout
                table.row(
                    [latin1(c) for c in (day_label(m.at, lang), m.lot_code or "", m.memo,
                                         statement.money(amount))]
                )

    if statement.payout_records:
        _section(pdf, w["payout_records"])
        with _table(pdf, (28, 30, 102, 30)) as table:
            table.row([latin1(w[k]) for k in ("date", "status", "reference", "amount")])
            for p in statement.payout_records:
                table.row(
                    [latin1(c) for c in (day_label(p.created_at, lang), statement.status(p.status),
                                         p.reference or "-", statement.money(p.amount_minor))]
                )
    return bytes(pdf.output())


def _section(pdf: FPDF, heading: str) -> None:
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 12)
    pdf.multi_cell(0, 7, latin1(heading), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)


def _none(pdf: FPDF, words: dict[str, str]) -> None:
    pdf.set_font("Helvetica", size=9)
    pdf.multi_cell(0, 5, latin1(words["none"]), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, widths: tuple[int, ...]) -> Any:
    """A striped table of ``widths`` mm, the last column (the amount) aligned right."""
    pdf.set_font("Helvetica", size=8)
    aligns = ["LEFT"] * (len(widths) - 1) + ["RIGHT"]
    return pdf.table(
        col_widths=widths,
        width=sum(widths),
        text_align=tuple(aligns),
        line_height=4.5,
        cell_fill_mode=TableCellFillMode.ROWS,
        cell_fill_color=(246, 242, 234),
    )
