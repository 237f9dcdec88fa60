"""Photos and files in a real Chromium, the customer on one daphne worker and
the agent on the other (sharing Redis): a photo from the paperclip, a paste
and a drop, each shown once on both pages; a file of the wrong type refused
with a clear message. ``FIIDO_SCREENSHOTS=docs/screenshots`` saves attachment.png."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageDraw

from tests.chatbot.test_attachments import PDF, SVG, jpeg_with_gps
from tests.e2e.test_browser import (
    ask_for_a_person,
    assert_once,
    log_in,
    not_pwned,
    open_page,
    screenshot,
    send,
    session_name,
    wait_live,
)
from tests.e2e.test_browser import start_workers as start

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.browser]

WRONG_TYPE = "Only photos (JPEG, PNG or WebP) and PDF files can be sent."

# Hands a file to the page as a paste into the composer, or a drop on the conversation.
HAND_OVER_JS = """([kind, selector, name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const target = document.querySelector(selector);
  if (kind === "paste") {
    target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  } else {
    for (const type of ["dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }
}"""


def scene() -> Image.Image:
    """Something that reads as a photo in the README's screenshot: a bike's rear rack, snapped."""
    image = Image.new("RGB", (600, 800), "#cfe3f5")
    draw = ImageDraw.Draw(image)
    for y in range(420, 800):  # the floor
        shade = 150 - (y - 420) // 6
        draw.line([(0, y), (600, y)], fill=(shade, shade - 10, shade - 25))
    draw.ellipse([60, 430, 340, 710], outline="#222", width=22)  # the wheel
    draw.ellipse([185, 555, 215, 585], fill="#444")
    draw.line([(200, 570), (470, 300)], fill="#0b6e4f", width=26)  # the frame
    draw.rectangle([250, 250, 560, 280], fill="#333")  # the rack
    draw.line([(300, 280), (230, 470)], fill="#333", width=12)
    draw.line([(520, 280), (585, 430)], fill="#b42318", width=12)  # the broken strut
    return image


def screenshot_png() -> bytes:
    """A pasted screenshot: an order confirmation, as lines of 'text'."""
    image = Image.new("RGB", (520, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 520, 44], fill="#0b6e4f")
    for row, width in enumerate((380, 300, 420, 250, 340)):
        draw.rectangle([24, 70 + row * 42, 24 + width, 86 + row * 42], fill="#d9dee5")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def hand_over(page, kind: str, selector: str, name: str, mime: str, data: bytes) -> None:
    page.evaluate(HAND_OVER_JS, [kind, selector, name, mime, base64.b64encode(data).decode()])


def attachments_shown(page, kind: str) -> list[str]:
    """The message ids of the bubbles showing a ``kind`` ("image" or "file") attachment."""
    return page.eval_on_selector_all(
        f"#messages [data-message-id]:has(.attachment--{kind})", "els => els.map(e => e.dataset.messageId)"
    )


def wait_attachments(page, kind: str, count: int) -> list[str]:
    page.wait_for_function(
        "([kind, count]) => document.querySelectorAll(`#messages [data-message-id] .attachment--${kind}`).length"
        " === count && !document.querySelector('.bubble--pending')",
        arg=[kind, count],
    )
    shown = attachments_shown(page, kind)
    assert len(shown) == len(set(shown)) == count, shown
    return shown


def images_loaded(page) -> bool:
    return page.evaluate(
        "() => [...document.querySelectorAll('.attachment__image')].every(i => i.complete && i.naturalWidth > 0)"
    )


def test_photos_and_files_reach_the_other_side_once_and_a_wrong_type_is_refused(browser, workers, redis_url):
    from workbench.management.commands.create_agent import ensure_agent

    ensure_agent("alice", "alice-password", first_name="Alice")
    first, second = start(workers, 2, REDIS_URL=redis_url)

    customer = open_page(browser, f"{first.url}/", viewport={"width": 420, "height": 860})
    send(customer, "The rack on my D11 broke.")
    wait_live(customer, "[data-chat]")
    name = session_name(customer)
    ask_for_a_person(customer)
    customer.get_by_text("Waiting for an agent.", exact=False).wait_for()

    desk = log_in(browser, second.url, "alice", "alice-password", viewport={"width": 1100, "height": 760})
    desk.goto(f"{second.url}/workbench/sessions/{name}")
    wait_live(desk, "[data-conversation]")
    assert desk.is_disabled("#attach")  # not theirs yet
    desk.get_by_role("button", name="Take over").click()
    desk.get_by_text("You are in this conversation.").wait_for()
    assert desk.is_enabled("#attach")
    customer.get_by_text("Alice has joined the chat.").wait_for()

    # The paperclip: the customer picks a phone photo (EXIF and GPS in it).
    photo_file = {"name": "rack.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps(scene())}
    customer.set_input_files("#attach-input", files=[photo_file])
    (photo,) = wait_attachments(customer, "image", 1)
    assert wait_attachments(desk, "image", 1) == [photo]
    desk.wait_for_function("() => [...document.querySelectorAll('.attachment__image')].every(i => i.complete)")
    assert images_loaded(desk) and images_loaded(customer)  # served through the access check, by each worker
    link = desk.locator(f'[data-message-id="{photo}"] a.attachment--image')
    assert link.get_attribute("target") == "_blank"
    assert desk.evaluate("url => fetch(url).then(r => r.headers.get('content-type'))", link.get_attribute("href")) == (
        "image/jpeg"
    )

    # A paste into the composer, and a file of the wrong type: an SVG called .jpg.
    hand_over(customer, "paste", "#composer-input", "screenshot.png", "image/png", screenshot_png())
    wait_attachments(customer, "image", 2)
    customer.set_input_files("#attach-input", files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": SVG}])
    customer.locator("#error").get_by_text(WRONG_TYPE).wait_for()
    wait_attachments(customer, "image", 2)
    wait_attachments(desk, "image", 2)

    # The agent drops a PDF on the conversation; the customer gets a download link.
    hand_over(desk, "drop", "#messages", "fitting-guide.pdf", "application/pdf", PDF)
    (guide,) = wait_attachments(customer, "file", 1)
    assert wait_attachments(desk, "file", 1) == [guide]
    file_link = customer.locator(f'[data-message-id="{guide}"] a.attachment--file')
    assert file_link.get_attribute("download") == "fitting-guide.pdf"
    send(desk, "Thanks for the photos, a new rack is on its way.")
    assert_once(customer, "Thanks for the photos, a new rack is on its way.")

    # A reload shows each one once, from history.
    customer.reload()
    wait_live(customer, "[data-chat]")
    wait_attachments(customer, "image", 2)
    wait_attachments(customer, "file", 1)
    customer.wait_for_function("() => [...document.querySelectorAll('.attachment__image')].every(i => i.complete)")
    customer.evaluate("() => { const m = document.getElementById('messages'); m.scrollTop = m.scrollHeight; }")
    screenshot(customer, "attachment.png")
    not_pwned(customer, desk)
