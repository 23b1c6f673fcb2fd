"""Letters become A4 PDFs with the address in the envelope window; the text and the image are checked with
poppler (pdftotext, pdftoppm), installed from Debian's packages when missing."""

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from notifier_fixtures import MADE_UP_HOUSEHOLD

from notifier.case_api import CaseApiContacts, open_case_api
from notifier.channels.base import OutgoingMessage
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.channels.letter import LetterChannel
from notifier.config import ChannelMode, Settings
from notifier.templating.catalog import TemplateFile, catalog, render
from notifier.templating.context import NoContacts, Sender
from notifier.workers.dispatcher import channels_for, contacts_for

SENDER = Sender(name="Gemeente Proefdam", phone="14 0511")
WRITTEN_ON = date(2026, 3, 16)
LETTERS = [t for t in catalog() if t.channel == "letter" and t.language == "nl"]


@pytest.fixture(scope="module")
def poppler() -> None:
    if shutil.which("pdftotext") and shutil.which("pdftoppm"):
        return
    if shutil.which("apt-get") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is missing and apt-get is not available to install it")
    subprocess.run(["apt-get", "install", "-y", "-q", "poppler-utils"], check=True, capture_output=True)


def letter_of(template_id: str, notification_id: str) -> OutgoingMessage:
    rendered = render(template_id, language="nl", household=MADE_UP_HOUSEHOLD, sender=SENDER, reference="AB12CD34")
    return OutgoingMessage(
        notification_id=notification_id,
        case_id="ab12cd34-0000-4000-8000-000000000000",
        moment=template_id.split(".")[0],
        channel="letter",
        language="nl",
        subject=rendered.subject,
        body=rendered.body,
        template_version=rendered.version,
        reference="AB12CD34",
        postal_address=(MADE_UP_HOUSEHOLD.full_name, *MADE_UP_HOUSEHOLD.address_lines),
        written_on=WRITTEN_ON,
    )


def text_in(pdf: Path, *, area: tuple[float, float, float, float] | None = None) -> str:
    """The PDF's text; with `area` (x, y, w, h in mm on page 1) only what lies inside it."""
    command = ["pdftotext", "-layout", "-f", "1", "-l", "1"] if area else ["pdftotext", "-layout"]
    if area:
        points = [round(v * 72 / 25.4) for v in area]  # pdftotext crops at 72 dpi: points
        command += ["-x", str(points[0]), "-y", str(points[1]), "-W", str(points[2]), "-H", str(points[3])]
    return subprocess.run([*command, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.usefixtures("poppler")
@pytest.mark.parametrize("template", LETTERS, ids=lambda t: t.id)
async def test_each_dutch_letter_becomes_a_readable_a4_pdf_in_the_print_folder(
    template: TemplateFile, tmp_path: Path
) -> None:
    template_id = template.id
    notification_id = f"n-{template_id.replace('.', '-').lower()}"
    channel = LetterChannel(
        tmp_path, sender=SENDER, postage_for={"M4": "priority", "M7": "priority"}, default_postage="standard"
    )
    handover = await channel.send(letter_of(template_id, notification_id))
    assert handover.accepted
    assert handover.provider_reference == f"{notification_id}.pdf"

    pdf = tmp_path / f"{notification_id}.pdf"
    sidecar = json.loads((tmp_path / f"{notification_id}.json").read_text())
    assert sidecar["postage_class"] == ("priority" if template_id.startswith(("M4", "M7")) else "standard")
    assert sidecar["template_version"] == template.version
    assert sidecar["pages"] == 1, "a letter of the plain structure fits on one page"

    text = text_in(pdf)
    for expected in ("Gemeente Proefdam", "Jelle Testhuis", "16 maart 2026", "AB12CD34", "Wat kunt u doen?", "14 0511"):
        assert expected in text, f"{expected!r} missing from the letter's text"
    # The address block lies inside the window: 20 mm from the left, 50 mm from the top, 85 x 45 mm.
    window = text_in(pdf, area=(20, 50, 85, 45))
    assert "Jelle Testhuis" in window
    assert "Proefstraat 1" in window
    assert "8911 AB Proefdam" in window
    assert "Kenmerk" not in window

    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    [png] = tmp_path.glob("page*.png")
    header = png.read_bytes()[:24]
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert abs(height / width - 297 / 210) < 0.01, "A4 portrait"


async def test_the_local_outbox_writes_letters_as_pdf(tmp_path: Path) -> None:
    channel = FileOutboxChannel("letter", tmp_path, sender=SENDER)
    handover = await channel.send(letter_of("M1.letter", "n-local"))
    assert handover.provider_reference == "n-local.pdf"
    assert (tmp_path / "n-local.pdf").read_bytes().startswith(b"%PDF-")


async def test_the_dispatcher_chooses_channels_by_mode(tmp_path: Path) -> None:
    local = Settings(outbox_dir=tmp_path)
    assert {name: type(c).__name__ for name, c in channels_for(local, None).items()} == {
        "email": "FileOutboxChannel",
        "sms": "FileOutboxChannel",
        "letter": "FileOutboxChannel",
        "caseworker_task": "FileOutboxChannel",
    }
    assert isinstance(contacts_for(local, None), NoContacts), "no made-up household, not even locally"
    live = Settings(channel_mode=ChannelMode.live, print_dir=tmp_path)
    with pytest.raises(ValueError, match="case-api"):
        channels_for(live, None)
    async with open_case_api(live) as case_api:
        assert {name: type(c).__name__ for name, c in channels_for(live, case_api).items()} == {
            "email": "SmtpChannel",
            "letter": "LetterChannel",
            "sms": "CmSmsChannel",
            "caseworker_task": "CaseworkerTaskChannel",
        }
        assert isinstance(contacts_for(live, case_api), CaseApiContacts), "live mode reads the household from case-api"
        assert isinstance(contacts_for(local, case_api), CaseApiContacts), "so does the local mode (make run)"
