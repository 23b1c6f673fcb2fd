"""Letters as A4 PDFs for the print-and-mail provider, dropped in a folder with their postage class.

Layout (millimetres from the sheet's top-left corner), for a window envelope of the Dutch C5/DL convention with the
window on the left: the address block sits at x=20, y=50 and is at most 85 wide and 45 high, so that it shows
through the window whichever way the folded letter slides. The letterhead stays above y=45, date and reference
start below the window (y=100).
"""

import asyncio
import json
from datetime import date
from pathlib import Path

from fpdf import FPDF

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.templating.catalog import long_date
from notifier.templating.context import Sender

ADDRESS_X, ADDRESS_Y, ADDRESS_W, ADDRESS_H = 20.0, 50.0, 85.0, 45.0
MARGIN = 20.0
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
LABELS = {
    "nl": ("Datum", "Kenmerk", "Onderwerp", "Telefoon"),
    "fy": ("Datum", "Kenmerk", "Underwerp", "Telefoan"),
    "en": ("Date", "Reference", "Subject", "Phone"),
}


def _fonts(pdf: FPDF) -> str:
    """DejaVu Sans when Debian's fonts-dejavu-core is installed (é, ë, ô, û of Dutch and Frisian); otherwise core
    Helvetica, whose Latin-1 covers Dutch and most Frisian but not every character (ŝ would fail)."""
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return "DejaVu"
    return "Helvetica"


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
    font = pdf.footer_font = _fonts(pdf)
    pdf.footer_text = f"{message.moment} · template v{message.template_version} · {message.notification_id}"
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
    pdf.cell(0, 6, long_date(written_on, message.language), new_x="LMARGIN", new_y="NEXT")
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
