"""DOCX export of the national forms with python-docx (editable in Word / LibreOffice).

Same :class:`soc_api.forms.layout.Document` as the PDF: A4 page, national header beside the
issuing organisation, centred title, numbered sections, ☒/☐ checkbox groups, grid tables and
the signature block. Set in Times New Roman, the typeface of Vietnamese administrative papers.
"""

from __future__ import annotations

import io

from docx import Document as new_document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from soc_api.forms.labels import MANDATORY_MARK, NATION_HEADER, NATION_MOTTO
from soc_api.forms.layout import Choices, Document, Grid, Line, checkbox

FONT = "Times New Roman"
BODY_PT = 12


def _para(
    container: DocxDocument | _Cell,
    text: str = "",
    *,
    bold: bool = False,
    size: float | None = None,
    align: WD_ALIGN_PARAGRAPH | None = None,
    indent_mm: float = 0,
    space_after: float = 2,
) -> Paragraph:
    paragraph = container.add_paragraph()
    if text:
        run = paragraph.add_run(text)
        run.bold = bold
        if size is not None:
            run.font.size = Pt(size)
    if align is not None:
        paragraph.alignment = align
    fmt = paragraph.paragraph_format
    fmt.space_after = Pt(space_after)
    fmt.space_before = Pt(0)
    if indent_mm:
        fmt.left_indent = Mm(indent_mm)
    return paragraph


def _labelled(container: DocxDocument | _Cell, label: str, mandatory: bool, value: str | None) -> Paragraph:
    paragraph = _para(container)
    paragraph.add_run(f"{label}{' ' + MANDATORY_MARK if mandatory else ''}:").bold = True
    if value is not None:
        paragraph.add_run(f" {value}")
    return paragraph


def _setup(docx: DocxDocument, doc: Document) -> None:
    section = docx.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(25), Mm(18)
    section.top_margin, section.bottom_margin = Mm(16), Mm(18)
    normal = docx.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)
    props = docx.core_properties
    props.title = doc.metadata.get("title", doc.title)
    props.subject = doc.metadata.get("subject", doc.title_en)
    props.author = "provincial-soc"
    props.language = "vi-VN"
    footer = section.footer.paragraphs[0]
    footer.text = f"{doc.form_code or doc.title} — {doc.title_en}"
    footer.runs[0].font.size = Pt(8)


def _header(docx: DocxDocument, doc: Document) -> None:
    if doc.form_code:
        _para(docx, doc.form_code, size=10, align=WD_ALIGN_PARAGRAPH.RIGHT)
    table = docx.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = table.rows[0].cells
    left.width, right.width = Mm(70), Mm(97)
    left.paragraphs[0].add_run(doc.issuer.upper()).bold = True
    left.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _para(left, "———", align=WD_ALIGN_PARAGRAPH.CENTER)
    right.paragraphs[0].add_run(NATION_HEADER).bold = True
    right.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _para(right, NATION_MOTTO, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(right, "———————", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(docx, doc.place_date, align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=8)
    _para(docx, doc.title, bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
    if doc.subtitle:
        _para(docx, doc.subtitle, align=WD_ALIGN_PARAGRAPH.CENTER)
    if doc.recipients:
        _para(docx, doc.recipients, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=8)


def _line(docx: DocxDocument, item: Line) -> None:
    if item.block:
        _labelled(docx, item.label, item.mandatory, None)
        for text in item.value.splitlines() or [""]:
            _para(docx, text, indent_mm=6)
    else:
        _labelled(docx, item.label, item.mandatory, item.value)


def _choices(docx: DocxDocument, item: Choices) -> None:
    boxes = [f"{checkbox(chosen)} {text}" for text, chosen in item.options]
    if item.inline:
        _labelled(docx, item.label, item.mandatory, "    ".join(boxes))
    else:
        _labelled(docx, item.label, item.mandatory, None)
        for box in boxes:
            _para(docx, box, indent_mm=6, space_after=0)
    if item.extra:
        _para(docx, f"Ghi rõ: {item.extra}", indent_mm=6)


def _grid(docx: DocxDocument, item: Grid) -> None:
    rows = [item.header, *item.rows, *([item.footer] if item.footer else [])]
    table = docx.add_table(rows=len(rows), cols=len(item.header))
    table.style = "Table Grid"
    text_width = 167.0  # mm between the margins
    for r, values in enumerate(rows):
        bold = r == 0 or (item.footer is not None and r == len(rows) - 1)
        for c, value in enumerate(values):
            cell = table.cell(r, c)
            cell.width = Mm(item.widths[c] * text_width)
            run = cell.paragraphs[0].add_run(value)
            run.bold = bold
            run.font.size = Pt(10)
            if c not in (1, len(values) - 1) or r == 0:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER


def _signature(docx: DocxDocument, doc: Document) -> None:
    table = docx.add_table(rows=1, cols=2)
    cell = table.rows[0].cells[1]
    cell.paragraphs[0].add_run(doc.signer_title).bold = True
    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _para(cell, doc.signer_note, size=10, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=36)
    _para(cell, doc.signer_name, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(docx, doc.footnote, size=9)


def render_docx(doc: Document) -> bytes:
    """The document as DOCX bytes."""
    docx = new_document()
    _setup(docx, doc)
    _header(docx, doc)
    for section in doc.sections:
        _para(docx, section.title, bold=True, size=13).paragraph_format.space_before = Pt(8)
        for item in section.items:
            if isinstance(item, Line):
                _line(docx, item)
            elif isinstance(item, Choices):
                _choices(docx, item)
            else:
                _grid(docx, item)
    _signature(docx, doc)
    buffer = io.BytesIO()
    docx.save(buffer)
    return buffer.getvalue()
