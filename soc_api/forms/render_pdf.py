"""PDF export of the national forms with ReportLab, set in DejaVu Sans for Vietnamese glyphs.

Lays out a :class:`soc_api.forms.layout.Document` on A4 like the official forms: national
header beside the issuing organisation, centred title, numbered sections, checkbox groups,
tables, signature block and a page footer. Output is deterministic (ReportLab invariant mode).
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from soc_api.forms.fonts import register_fonts
from soc_api.forms.labels import MANDATORY_MARK, NATION_HEADER, NATION_MOTTO
from soc_api.forms.layout import Choices, Document, Grid, Line, checkbox

MARGINS = {"leftMargin": 25 * mm, "rightMargin": 18 * mm, "topMargin": 16 * mm, "bottomMargin": 18 * mm}
NBSP = "\u00a0"


class _Styles:
    def __init__(self, regular: str, bold: str) -> None:
        def style(name: str, **kw: Any) -> ParagraphStyle:
            base: dict[str, Any] = {"fontName": regular, "fontSize": 10, "leading": 13.5}
            base.update(kw)
            return ParagraphStyle(name, **base)

        self.body = style("body")
        self.indent = style("indent", leftIndent=6 * mm)
        self.header = style("header", fontName=bold, fontSize=10, alignment=TA_CENTER, leading=13)
        self.code = style("code", fontSize=9, alignment=TA_RIGHT)
        self.place = style("place", alignment=TA_RIGHT, spaceBefore=4)
        self.title = style("title", fontName=bold, fontSize=14, leading=18, alignment=TA_CENTER, spaceBefore=10)
        self.subtitle = style("subtitle", alignment=TA_CENTER, spaceAfter=2)
        self.recipients = style("recipients", alignment=TA_CENTER, spaceBefore=4, spaceAfter=6)
        self.section = style("section", fontName=bold, fontSize=11, leading=15, spaceBefore=8, spaceAfter=2)
        self.cell = style("cell", fontSize=8.5, leading=10.5, alignment=TA_LEFT)
        self.cell_head = style("cell_head", fontName=bold, fontSize=8.5, leading=10.5, alignment=TA_CENTER)
        self.cell_num = style("cell_num", fontSize=8.5, leading=10.5, alignment=TA_CENTER)
        self.sign = style("sign", fontName=bold, alignment=TA_CENTER)
        self.sign_note = style("sign_note", fontSize=9, alignment=TA_CENTER)
        self.foot = style("foot", fontSize=8.5, textColor=colors.HexColor("#444444"), spaceBefore=10)


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def _label(label: str, mandatory: bool) -> str:
    return f"<b>{_text(label)}{' ' + MANDATORY_MARK if mandatory else ''}:</b>"


def _line(item: Line, st: _Styles) -> list[Flowable]:
    if item.block:
        return [Paragraph(_label(item.label, item.mandatory), st.body), Paragraph(_text(item.value), st.indent)]
    return [Paragraph(f"{_label(item.label, item.mandatory)} {_text(item.value)}", st.body)]


def _choices(item: Choices, st: _Styles) -> list[Flowable]:
    out: list[Flowable] = []
    if item.inline:  # each short option kept whole on one line
        boxes = [f"{checkbox(chosen)}{NBSP}{_text(text).replace(' ', NBSP)}" for text, chosen in item.options]
        spacer = NBSP * 4
        out.append(Paragraph(f"{_label(item.label, item.mandatory)} {spacer.join(boxes)}", st.body))
    else:
        out.append(Paragraph(_label(item.label, item.mandatory), st.body))
        out.extend(Paragraph(f"{checkbox(chosen)} {_text(text)}", st.indent) for text, chosen in item.options)
    if item.extra:
        out.append(Paragraph(f"Ghi rõ: {_text(item.extra)}", st.indent))
    return out


def _grid(item: Grid, st: _Styles, width: float) -> list[Flowable]:
    def cells(values: tuple[str, ...], head: bool = False) -> list[Paragraph]:
        row = []
        for index, value in enumerate(values):
            style = st.cell_head if head else (st.cell if index in (1, len(values) - 1) else st.cell_num)
            row.append(Paragraph(_text(value), style))
        return row

    data = [cells(item.header, head=True), *(cells(row) for row in item.rows)]
    if item.footer:
        data.append(cells(item.footer, head=True))
    table = Table(data, colWidths=[w * width for w in item.widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st.body.fontName),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [Spacer(1, 2 * mm), table]


def _header(doc: Document, st: _Styles, width: float) -> list[Flowable]:
    left = [Paragraph(_text(doc.issuer.upper()), st.header), Paragraph("———", st.header)]
    right = [
        Paragraph(NATION_HEADER, st.header),
        Paragraph(NATION_MOTTO, st.header),
        Paragraph("———————", st.header),
    ]
    table = Table([[left, right]], colWidths=[0.42 * width, 0.58 * width])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st.body.fontName),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    out: list[Flowable] = []
    if doc.form_code:
        out.append(Paragraph(_text(doc.form_code), st.code))
    out += [table, Paragraph(_text(doc.place_date), st.place), Paragraph(_text(doc.title), st.title)]
    if doc.subtitle:
        out.append(Paragraph(_text(doc.subtitle), st.subtitle))
    if doc.recipients:
        out.append(Paragraph(_text(doc.recipients), st.recipients))
    return out


def _signature(doc: Document, st: _Styles, width: float) -> list[Flowable]:
    block = [
        Paragraph(_text(doc.signer_title), st.sign),
        Paragraph(_text(doc.signer_note), st.sign_note),
        Spacer(1, 16 * mm),
        Paragraph(_text(doc.signer_name), st.sign),
    ]
    table = Table([[Spacer(1, 1), block]], colWidths=[0.45 * width, 0.55 * width])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), st.body.fontName)]))
    return [Spacer(1, 6 * mm), table, Paragraph(_text(doc.footnote), st.foot)]


def render_pdf(doc: Document) -> bytes:
    """The document as PDF bytes (A4, DejaVu Sans embedded)."""
    regular, bold = register_fonts()
    st = _Styles(regular, bold)
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=doc.metadata.get("title", doc.title),
        subject=doc.metadata.get("subject", doc.title_en),
        author="provincial-soc",
        creator="provincial-soc forms",
        lang="vi-VN",
        invariant=1,
        initialFontName=regular,
        leftMargin=MARGINS["leftMargin"],
        rightMargin=MARGINS["rightMargin"],
        topMargin=MARGINS["topMargin"],
        bottomMargin=MARGINS["bottomMargin"],
    )
    width = float(template.width)
    story: list[Flowable] = _header(doc, st, width)
    for section in doc.sections:
        story.append(Paragraph(_text(section.title), st.section))
        for item in section.items:
            if isinstance(item, Line):
                story += _line(item, st)
            elif isinstance(item, Choices):
                story += _choices(item, st)
            else:
                story += _grid(item, st, width)
    story += _signature(doc, st, width)
    footer = f"{doc.form_code or doc.title} — {doc.title_en}"

    def on_page(canvas: Canvas, _template: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.drawString(MARGINS["leftMargin"], 10 * mm, footer)
        canvas.drawRightString(A4[0] - MARGINS["rightMargin"], 10 * mm, f"Trang {canvas.getPageNumber()}")
        canvas.restoreState()

    template.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
