"""Letters as A4 PDFs for the print-and-mail provider, dropped in a folder with their postage class.

Layout (millimetres from the sheet's top-left corner), for a window envelope of the Dutch C5/DL convention with the
window on the left: the address block sits at x=20, y=50 and is at most 85 wide and 45 high, so that it shows
through the window whichever way the folded letter slides. The letterhead stays above y=45, date and reference
start below the window (y=100).
"""

import asyncio
import copy
import io
import json
import logging
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.templating.catalog import long_date
from notifier.templating.context import Sender

# fontTools.subset reports each step of embedding a font at INFO (~75 lines per letter): only warnings belong in
# the service's log.
logging.getLogger("fontTools").setLevel(logging.WARNING)

ADDRESS_X, ADDRESS_Y, ADDRESS_W, ADDRESS_H = 20.0, 50.0, 85.0, 45.0
MARGIN = 20.0
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# The characters of Dutch, Frisian and English letters and of names and addresses in Latin script: Basic Latin,
# Latin-1 (â ê é ô û ú of Frisian), Latin Extended-A and -B (ŝ, ł, ş, ț), general punctuation (typographic quotes,
# dashes, …), €, ™ and −. A letter with any other character is set with the whole font (slower, same look).
LATIN = ((0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x206F), (0x20AC, 0x20AC), (0x2122, 0x2122), (0x2212, 0x2212))
LABELS = {
    "nl": ("Datum", "Kenmerk", "Onderwerp", "Telefoon"),
    "fy": ("Datum", "Kenmerk", "Underwerp", "Telefoan"),
    "en": ("Date", "Reference", "Subject", "Phone"),
}


def _subset_options() -> ftsubset.Options:
    """The options fpdf2 2.8 embeds a font's used glyphs with (fpdf/output.py), so that pre-subsetting with them
    and then embedding gives the font fpdf2 embeds from the whole file."""
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += [
        *("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC", "EBSC"),
        *("SVG ", "CPAL", "COLR"),
    ]
    options.glyph_names = True  # fpdf2 picks the glyphs to embed by name
    return options


def _latin_subset(path: Path) -> bytes:
    """The font reduced to the LATIN characters (760 KB of DejaVu Sans become 73 KB); bounding boxes and metrics
    are kept as the whole font has them, so the PDF's font descriptor stays the same."""
    font = ttLib.TTFont(path, recalcTimestamp=False, recalcBBoxes=False)
    subsetter = ftsubset.Subsetter(_subset_options())
    subsetter.populate(unicodes=[code for first, last in LATIN for code in range(first, last + 1)])
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


class _Face:
    """One style of a TrueType font, parsed once per process. fpdf2's add_font reads and parses the font file for
    every document (about two thirds of a letter's time with DejaVu): here each document gets a copy of the parsed
    font (widths, character map, descriptor) with its own glyph subset and its own fontTools font, read lazily from
    bytes in memory, that fpdf2 subsets in place when it writes the document."""

    def __init__(self, data: bytes, fontkey: str, style: str) -> None:
        self._data = data
        self._parsed = TTFFont(FPDF(), io.BytesIO(data), fontkey, style)  # type: ignore[arg-type]
        self.characters = frozenset(chr(code) for code in self._parsed.cmap)

    def add_to(self, pdf: FPDF) -> None:
        parsed = self._parsed
        font = copy.copy(parsed)
        font.i = len(pdf.fonts) + 1
        font.ttfont = ttLib.TTFont(io.BytesIO(self._data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.cw = copy.copy(parsed.cw)  # a defaultdict that grows as widths are looked up
        font.glyph_ids = dict(parsed.glyph_ids)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


@dataclass(frozen=True)
class _Family:
    name: str
    faces: tuple[_Face, ...]
    characters: frozenset[str]  # what every style has a glyph for

    def add_to(self, pdf: FPDF) -> str:
        for face in self.faces:
            face.add_to(pdf)
        return self.name


_FAMILIES: dict[str, _Family | None] = {}
_FAMILIES_LOCK = threading.Lock()  # letters are rendered in worker threads


def _family(kind: str) -> _Family | None:
    """DejaVu Sans, `latin` (pre-subset) or `whole`, parsed on first use; None without fonts-dejavu-core."""
    with _FAMILIES_LOCK:
        if kind not in _FAMILIES:
            paths = {style: FONT_DIR / name for style, name in FONT_FILES.items()}
            if not all(path.exists() for path in paths.values()):
                _FAMILIES[kind] = None
            else:
                faces = tuple(
                    _Face(_latin_subset(path) if kind == "latin" else path.read_bytes(), f"dejavu{style}", style)
                    for style, path in paths.items()
                )
                _FAMILIES[kind] = _Family("DejaVu", faces, frozenset.intersection(*(face.characters for face in faces)))
        return _FAMILIES[kind]


def _fonts(pdf: FPDF, text: str) -> str:
    """DejaVu Sans when Debian's fonts-dejavu-core is installed (é, ë, ô, û of Dutch and Frisian); otherwise core
    Helvetica, whose Latin-1 covers Dutch and most Frisian but not every character (ŝ would fail). `text` is all
    the letter says: in LATIN it is set with the pre-subset font, else with the whole one."""
    latin = _family("latin")
    if latin is None:
        return "Helvetica"
    if set(text) - {"\n", "\r", "\t"} <= latin.characters:
        return latin.add_to(pdf)
    whole = _family("whole")
    assert whole is not None
    return whole.add_to(pdf)


class _LetterPdf(FPDF):
    """An A4 letter whose every page carries a small footer: moment, template version, notification id."""

    footer_text = ""
    footer_font = "Helvetica"

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.footer_font, "", 7)
        self.cell(0, 4, self.footer_text)


def render_letter_pdf(message: OutgoingMessage, *, sender: Sender, written_on: date) -> bytes:
    labels = LABELS.get(message.language, LABELS["en"])
    pdf = _LetterPdf(format="A4", unit="mm")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(message.subject)
    pdf.set_author(sender.name)
    pdf.footer_text = f"{message.moment} · template v{message.template_version} · {message.notification_id}"
    dated = long_date(written_on, message.language)
    said = (sender.name, sender.phone, *labels, *message.postal_address, dated, message.reference, message.subject)
    font = pdf.footer_font = _fonts(pdf, "".join((*said, message.body, pdf.footer_text)))
    pdf.add_page()

    # Letterhead: who sends, and the one phone number.
    pdf.set_xy(MARGIN, 15)
    pdf.set_font(font, "B", 16)
    pdf.cell(0, 8, sender.name)
    pdf.set_xy(MARGIN, 24)
    pdf.set_font(font, "", 9)
    pdf.cell(0, 5, f"{labels[3]} {sender.phone}")
    pdf.line(MARGIN, 32, 210 - MARGIN, 32)

    # Address block, where the window of the envelope shows it.
    pdf.set_xy(ADDRESS_X, ADDRESS_Y)
    pdf.set_font(font, "", 11)
    pdf.multi_cell(ADDRESS_W, 5.5, "\n".join(message.postal_address), new_x="LMARGIN", new_y="NEXT")

    pdf.set_xy(MARGIN, 100)
    pdf.set_font(font, "", 10)
    pdf.cell(30, 6, labels[0])
    pdf.cell(0, 6, dated, new_x="LMARGIN", new_y="NEXT")
    pdf.cell(30, 6, labels[1])
    pdf.cell(0, 6, message.reference, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(font, "B", 13)
    pdf.multi_cell(0, 7, message.subject, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    for line in message.body.splitlines():
        # The plain structure's headings are the short questions ("Wat kunt u doen?").
        heading = line.endswith("?") and len(line) < 40
        pdf.set_font(font, "B" if heading else "", 11)
        if not line.strip():
            pdf.ln(3)
            continue
        pdf.multi_cell(0, 5.5, line, align="L", new_x="LMARGIN", new_y="NEXT")  # ragged right reads easier
    return bytes(pdf.output())


class LetterChannel:
    """Drops <notification id>.pdf and a .json sidecar (postage class, moment, template version) in a folder."""

    name = "letter"

    def __init__(self, folder: Path, *, sender: Sender, postage_for: dict[str, str], default_postage: str) -> None:
        self._folder = folder
        self._sender = sender
        self._postage_for = postage_for
        self._default_postage = default_postage

    async def send(self, message: OutgoingMessage) -> HandOver:
        if not message.postal_address:
            return HandOver(accepted=False, permanent=True, reason="no postal address for a letter")
        written_on = message.written_on or date.today()
        pdf = await asyncio.to_thread(render_letter_pdf, message, sender=self._sender, written_on=written_on)
        postage = self._postage_for.get(message.moment, self._default_postage)
        sidecar = {
            "notification_id": message.notification_id,
            "moment": message.moment,
            "language": message.language,
            "template_version": message.template_version,
            "postage_class": postage,
            "pages": pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages"),
        }
        await asyncio.to_thread(self._drop, message.notification_id, pdf, sidecar)
        return HandOver(accepted=True, provider_reference=f"{message.notification_id}.pdf")

    def _drop(self, notification_id: str, pdf: bytes, sidecar: dict[str, object]) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        # The sidecar first, the PDF last: the printer picks up PDFs, so it never sees one without its postage.
        for suffix, content in ((".json", json.dumps(sidecar, indent=2).encode()), (".pdf", pdf)):
            path = self._folder / f"{notification_id}{suffix}"
            tmp = path.with_suffix(suffix + ".part")
            tmp.write_bytes(content)
            tmp.replace(path)
