"""The TrueType font the PDF forms are set in: DejaVu Sans, which has every Vietnamese glyph.

ReportLab's built-in PDF fonts (Helvetica, Times) are Latin-1 only and would drop the
diacritics, so PDF export refuses to run without a Unicode TrueType font. Looked up in
``$SOC_FORMS_FONT_DIR`` first, then where Debian's ``fonts-dejavu-core`` installs it.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from soc_api.forms.errors import FontMissing

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
REGULAR_FILE = "DejaVuSans.ttf"
BOLD_FILE = "DejaVuSans-Bold.ttf"
REGULAR = "SocFormSans"
BOLD = "SocFormSans-Bold"


def font_dirs() -> list[Path]:
    extra = os.environ.get("SOC_FORMS_FONT_DIR")
    return ([Path(extra)] if extra else []) + list(FONT_DIRS)


def find_fonts() -> tuple[Path, Path]:
    """Paths of DejaVu Sans regular and bold; :class:`FontMissing` says how to install them."""
    for directory in font_dirs():
        regular, bold = directory / REGULAR_FILE, directory / BOLD_FILE
        if regular.is_file() and bold.is_file():
            return regular, bold
    searched = ", ".join(str(d) for d in font_dirs())
    raise FontMissing(
        f"Không tìm thấy phông chữ DejaVu Sans ({REGULAR_FILE}, {BOLD_FILE}) để xuất PDF tiếng Việt / "
        f"DejaVu Sans TrueType fonts needed for Vietnamese PDF export were not found in: {searched}. "
        "Install them with `apt-get install -y fonts-dejavu-core` or point SOC_FORMS_FONT_DIR at a "
        "directory holding both files."
    )


@cache
def register_fonts() -> tuple[str, str]:
    """Register the fonts with ReportLab once; returns (regular, bold) font names."""
    from reportlab.lib.fonts import addMapping  # noqa: PLC0415 - ReportLab loads only when a PDF is made
    from reportlab.pdfbase import pdfmetrics  # noqa: PLC0415
    from reportlab.pdfbase.ttfonts import TTFont  # noqa: PLC0415

    regular, bold = find_fonts()
    try:
        pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
    except Exception as exc:  # a damaged or unreadable font file
        raise FontMissing(f"Không đọc được phông chữ / Cannot load font {regular}: {exc}") from exc
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD
