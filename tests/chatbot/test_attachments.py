"""Photos and files: checked by content, stripped of metadata, stored once,
served only to the conversation's customer and its agents (chatbot/attachments.py)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import ExifTags, Image

from chatbot import attachments, conversations
from chatbot.models import Attachment, ChatSession, Event, Message

Status = ChatSession.Status

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 32
MULTIPART = "multipart/form-data; boundary=x"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (800, 600), mode: str = "RGB", **save) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else None).save(buffer, fmt, **save)
    return buffer.getvalue()


def jpeg_with_gps(upright: Image.Image | None = None) -> bytes:
    """A phone photo: EXIF with the camera, a GPS position and 'rotate 90°', a comment and XMP.
    Stored sideways, as a phone does (``upright`` is how it should look: 600 × 800 by default)."""
    upright = upright or Image.new("RGB", (600, 800), "red")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: shown upright it is 600 wide, 800 high
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SecretXmpPlace</x:xmpmeta>'
    buffer = io.BytesIO()
    upright.rotate(90, expand=True).save(buffer, "JPEG", exif=exif, comment=b"SecretComment", xmp=xmp)
    return buffer.getvalue()


def files_in(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


class Desk:
    """A customer with a conversation and two agents, each with a test client."""

    def __init__(self) -> None:
        from workbench.management.commands.create_agent import ensure_agent

        self.customer = Client()
        self.name = self.customer.post("/api/sessions", b"{}", content_type="application/json").json()["session_name"]
        self.alice = ensure_agent("alice", None, first_name="Alice")[0]
        self.bob = ensure_agent("bob", None, first_name="Bob")[0]
        self.agent = Client()
        self.agent.force_login(self.alice)
        self.other_agent = Client()
        self.other_agent.force_login(self.bob)

    @property
    def session(self) -> ChatSession:
        return ChatSession.objects.get(name=self.name)

    def upload(self, data: bytes, filename: str = "photo.jpg", client=None, side: str = "customer", **fields):
        client = client or (self.customer if side == "customer" else self.agent)
        prefix = "" if side == "customer" else "/workbench"
        body = {"file": SimpleUploadedFile(filename, data, content_type="image/jpeg"), **fields}
        return client.post(f"{prefix}/api/sessions/{self.name}/attachments", body)

    def live(self) -> None:
        conversations.escalate(self.session, reason="help")
        conversations.take_over(self.session, agent=self.alice)

    def footprint(self) -> tuple:
        session = self.session
        return Message.objects.count(), Event.objects.count(), Attachment.objects.count(), session.last_seq


@pytest.fixture
def desk(db, settings) -> Desk:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return Desk()


def assert_refused(response, status: int, desk: Desk, before: tuple, root: Path) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"error"} and data["error"]
    assert desk.footprint() == before, "a refused upload changed the database"
    assert files_in(root) == [], "a refused upload left a file behind"
    return data


# ---------------------------------------------------------------------------
# Accepted
# ---------------------------------------------------------------------------
def test_a_customer_photo_is_a_message_with_an_image_part_and_no_metadata(desk, attachments_root):
    response = desk.upload(jpeg_with_gps(), "IMG_0042.JPG", client_id="5f0c6a3e-8f4b-4e8e-9a53-7d7a6c7f1a01")
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert message["role"] == "user" and message["client_id"] == "5f0c6a3e-8f4b-4e8e-9a53-7d7a6c7f1a01"
    (part,) = message["parts"]
    attachment = Attachment.objects.get()
    assert part == {
        "type": "image",
        "url": f"/api/sessions/{desk.name}/attachments/{attachment.pk}",
        "name": "IMG_0042.jpg",
        "size": attachment.size,
        "content_type": "image/jpeg",
        "width": 600,
        "height": 800,
        "thumbnail": f"/api/sessions/{desk.name}/attachments/{attachment.pk}?thumbnail=1",
    }
    assert f'src="{part["thumbnail"]}"' in message["html"].replace("&amp;", "&")
    assert f'href="{part["url"]}"' in message["html"]

    stored = (attachments_root / attachment.path).read_bytes()
    assert attachment.size == len(stored)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (600, 800)  # turned upright, then the tag dropped
        assert not image.getexif()
        assert not {"exif", "comment", "xmp"} & set(image.info)
    for secret in (b"SpyCam", b"SecretComment", b"SecretXmpPlace", b"GPS"):
        assert secret not in stored
    with Image.open(io.BytesIO((attachments_root / attachment.thumbnail_path).read_bytes())) as small:
        assert small.format == "WEBP" and max(small.size) == attachments.THUMBNAIL_SIDE
        assert not small.getexif()


def test_the_assistant_answers_a_file_with_a_short_text_and_one_event_each(desk, published_events):
    with published_events(expect=2) as sent:
        response = desk.upload(image_bytes("PNG"), "broken-part.png")
    assert response.status_code == 201
    reply = response.json()["reply"]
    assert reply["role"] == "bot" and "agent can" in reply["content"]
    kinds = [json.loads(m["data"])["message"]["role"] for g, m in sent if g.startswith("session.")]
    assert kinds == ["user", "bot"]
    assert desk.session.status == Status.BOT_ACTIVE and desk.session.bot_misses == 0


@pytest.mark.parametrize(
    ("data", "filename", "kind", "content_type", "name"),
    [
        (image_bytes("PNG", mode="RGBA"), "screen shot.png", "image", "image/png", "screen shot.png"),
        (image_bytes("WEBP"), "wheel.webp", "image", "image/webp", "wheel.webp"),
        (image_bytes("PNG", (40, 30), mode="P", transparency=0), "tiny.png", "image", "image/png", "tiny.png"),
        (PDF, "invoice.pdf", "file", "application/pdf", "invoice.pdf"),
        (PDF, "../../etc/invoice.html", "file", "application/pdf", "invoice.pdf"),  # its real type's extension
        (image_bytes("JPEG"), "\u202ephoto\u200b.gpj.exe", "image", "image/jpeg", "photo.gpj.jpg"),
        (image_bytes("PNG"), "\u200b.png", "image", "image/png", "photo.png"),
    ],
)
def test_accepted_types_are_judged_by_content_and_named_by_it(desk, data, filename, kind, content_type, name):
    desk.live()  # no assistant reply
    response = desk.upload(data, filename)
    assert response.status_code == 201, response.content
    assert response.json()["reply"] is None
    (part,) = response.json()["message"]["parts"]
    assert (part["type"], part["content_type"], part["name"]) == (kind, content_type, name)
    if kind == "file":
        assert "thumbnail" not in part and "width" not in part
    elif max(Image.open(io.BytesIO(data)).size) <= attachments.THUMBNAIL_SIDE:
        assert part["thumbnail"] == part["url"]  # small already: no second copy
        assert Attachment.objects.get().thumbnail_path == ""


def test_the_holding_agent_sends_a_file_as_one_message(desk, published_events, attachments_root):
    desk.live()
    with published_events(expect=1):
        response = desk.upload(PDF, "manual.pdf", side="agent", client_id=str(uuid.uuid4()))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["reply"] is None
    assert data["message"]["role"] == "agent" and data["message"]["agent"]["username"] == "alice"
    assert data["message"]["parts"][0]["type"] == "file"
    assert len(files_in(attachments_root)) == 1


# ---------------------------------------------------------------------------
# Refused, and nothing kept
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (SVG, "photo.jpg"),
        (HTML, "photo.jpg"),
        (HTML, "photo.png"),
        (ELF, "photo.jpg"),
        (EXE, "invoice.pdf"),
        (GIF, "photo.gif"),
        (b"\xff\xd8\xff\xe0" + HTML, "photo.jpg"),  # JPEG's first bytes, then a web page
        (image_bytes("JPEG")[:400], "cut.jpg"),  # truncated
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "fake.png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40, "fake.webp"),
    ],
    ids=[
        *("svg", "html", "html-as-png", "elf", "exe-as-pdf", "gif"),
        *("jpeg-head-html", "truncated", "png-head", "webp-head"),
    ],
)
def test_other_types_are_415_whatever_their_name(desk, attachments_root, data, filename):
    before = desk.footprint()
    body = assert_refused(desk.upload(data, filename), 415, desk, before, attachments_root)
    assert "JPEG, PNG or WebP" in body["error"]


def test_a_file_over_the_limit_is_413(desk, attachments_root, settings):
    settings.ATTACHMENT_MAX_BYTES = 2000
    before = desk.footprint()
    assert_refused(desk.upload(PDF + b"0" * 2000, "big.pdf"), 413, desk, before, attachments_root)
    assert desk.upload(PDF + b"0" * (1990 - len(PDF)), "fits.pdf").status_code == 201


def test_a_body_declared_over_the_limit_is_413_before_it_is_parsed(desk, attachments_root, settings):
    settings.ATTACHMENT_MAX_BYTES = 2000
    before = desk.footprint()
    response = desk.customer.generic(
        "POST",
        f"/api/sessions/{desk.name}/attachments",
        b"x" * 10,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2000 + 64 * 1024 + 1),
    )
    assert_refused(response, 413, desk, before, attachments_root)


def test_an_image_with_too_many_pixels_is_413(desk, attachments_root, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_PIXELS", 1000)
    before = desk.footprint()
    assert_refused(desk.upload(image_bytes("PNG", (100, 100)), "wide.png"), 413, desk, before, attachments_root)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"file": "x"}', "application/json", 415),
        (b"file=x", "application/x-www-form-urlencoded", 415),
        (b'--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--x--\r\n', MULTIPART, 400),
        (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n', MULTIPART, 400),
        (b"garbage", "multipart/form-data", 400),
        (b"garbage", "multipart/form-data; boundary=", 400),
    ],
    ids=["json", "form", "no-file-field", "cut-off", "no-boundary", "empty-boundary"],
)
def test_a_body_that_is_not_a_multipart_file_is_refused_as_json(desk, attachments_root, body, content_type, status):
    before = desk.footprint()
    response = desk.customer.generic("POST", f"/api/sessions/{desk.name}/attachments", body, content_type=content_type)
    assert_refused(response, status, desk, before, attachments_root)


def test_a_bad_client_id_is_400(desk, attachments_root):
    before = desk.footprint()
    assert_refused(desk.upload(PDF, "a.pdf", client_id="not-a-uuid"), 400, desk, before, attachments_root)


def test_a_closed_conversation_takes_no_file_and_keeps_none(desk, attachments_root):
    conversations.close(desk.session)
    before = desk.footprint()
    assert_refused(desk.upload(image_bytes(), "late.jpg"), 409, desk, before, attachments_root)


@pytest.mark.parametrize(
    ("setup", "client", "status"),
    [("pending", "agent", 409), ("live", "other_agent", 403), ("bot", "agent", 409)],
)
def test_only_the_holding_agent_may_send_a_file(desk, attachments_root, setup, client, status):
    if setup == "pending":
        conversations.escalate(desk.session)
    elif setup == "live":
        desk.live()
    before = desk.footprint()
    response = desk.upload(image_bytes(), "x.jpg", client=getattr(desk, client), side="agent")
    assert_refused(response, status, desk, before, attachments_root)


def test_strangers_get_404_and_store_nothing(desk, attachments_root):
    stranger = Client()
    stranger.post("/api/sessions", b"{}", content_type="application/json")
    before = desk.footprint()
    assert_refused(desk.upload(image_bytes(), client=stranger), 404, desk, before, attachments_root)
    assert_refused(desk.upload(image_bytes(), client=desk.agent), 404, desk, before, attachments_root)
    response = Client().post(f"/workbench/api/sessions/{desk.name}/attachments", {"file": io.BytesIO(PDF)})
    assert response.status_code == 401
    assert desk.footprint() == before and files_in(attachments_root) == []


def test_a_repeated_client_id_answers_200_with_the_same_body_and_stores_once(desk, attachments_root):
    client_id = str(uuid.uuid4())
    first = desk.upload(jpeg_with_gps(), "a.jpg", client_id=client_id)
    assert first.status_code == 201
    stored = files_in(attachments_root)
    before = desk.footprint()
    again = desk.upload(jpeg_with_gps(), "a.jpg", client_id=client_id)
    assert again.status_code == 200 and again.json() == first.json()
    assert desk.footprint() == before and files_in(attachments_root) == stored


def test_a_client_id_raced_past_the_early_check_still_stores_once(desk, attachments_root, monkeypatch):
    """Two sends of one upload at once: the unique constraint decides, and the loser's files are deleted."""
    client_id = str(uuid.uuid4())
    first = desk.upload(PDF, "a.pdf", client_id=client_id)
    monkeypatch.setattr(conversations, "_raise_if_repeated", lambda *args, **kwargs: None)
    before, stored = desk.footprint(), files_in(attachments_root)
    again = desk.upload(PDF, "a.pdf", client_id=client_id)
    assert again.status_code == 200 and again.json()["message"] == first.json()["message"]
    assert desk.footprint() == before and files_in(attachments_root) == stored


def test_a_failing_transaction_deletes_the_written_file(desk, attachments_root, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(attachments, "part", broken)
    before = desk.footprint()
    with pytest.raises(RuntimeError):
        conversations.post_attachment(desk.session, upload=SimpleUploadedFile("a.pdf", PDF))
    assert desk.footprint() == before and files_in(attachments_root) == []


def test_attachments_are_rate_limited_per_address(desk, settings):
    settings.RATE_LIMIT_ATTACHMENTS = "2/m"
    assert [desk.upload(PDF, "a.pdf").status_code for _ in range(3)] == [201, 201, 429]


# ---------------------------------------------------------------------------
# Served only to the customer and agents, never as anything a browser runs
# ---------------------------------------------------------------------------
def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_file_is_served_to_its_customer_and_agents_with_safe_headers(desk, db, django_user_model):
    part = desk.upload(jpeg_with_gps(), "photo.jpg").json()["message"]["parts"][0]
    non_agent = Client()
    non_agent.force_login(django_user_model.objects.create_user("mallory", password="x"))
    stranger = Client()
    stranger.post("/api/sessions", b"{}", content_type="application/json")
    for client in (desk.customer, desk.agent, desk.other_agent):
        response = client.get(part["url"])
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response["Content-Disposition"] == 'inline; filename="photo.jpg"'
        assert response["Cache-Control"] == "private, max-age=86400"
        assert body_of(response).startswith(b"\xff\xd8\xff")
        small = client.get(part["thumbnail"])
        assert small["Content-Type"] == "image/webp" and body_of(small)[8:12] == b"WEBP"
    for client in (Client(), stranger, non_agent):
        for url in (part["url"], part["thumbnail"]):
            response = client.get(url)
            assert response.status_code == 404 and response.json() == {"error": "File not found."}


def test_a_pdf_is_a_download(desk):
    part = desk.upload(PDF, "Rechnung März.pdf").json()["message"]["parts"][0]
    response = desk.customer.get(part["url"])
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body_of(response) == PDF


def test_a_file_url_of_another_conversation_or_id_is_404(desk):
    part = desk.upload(PDF, "a.pdf").json()["message"]["parts"][0]
    attachment_id = part["url"].rsplit("/", 1)[1]
    mine = desk.customer.post("/api/sessions", b"{}", content_type="application/json").json()["session_name"]
    assert desk.customer.get(f"/api/sessions/{mine}/attachments/{attachment_id}").status_code == 404
    assert desk.customer.get(f"/api/sessions/{desk.name}/attachments/999999").status_code == 404
    assert desk.agent.get(f"/api/sessions/no-such/attachments/{attachment_id}").status_code == 404
    assert desk.customer.post(part["url"]).status_code == 405


def test_erasing_a_conversation_deletes_its_files(desk, attachments_root, django_capture_on_commit_callbacks):
    desk.upload(jpeg_with_gps(), "a.jpg")
    desk.upload(PDF, "b.pdf")
    assert len(files_in(attachments_root)) == 3  # a photo, its thumbnail, a PDF
    with django_capture_on_commit_callbacks(execute=True):
        conversations.purge(desk.session)
    assert Attachment.objects.count() == 0 and files_in(attachments_root) == []


def test_history_and_the_agent_detail_carry_the_part(desk):
    message = desk.upload(PDF, "a.pdf").json()["message"]
    history = desk.customer.get(f"/api/sessions/{desk.name}?history=1").json()["messages"]
    assert message in history
    detail = desk.agent.get(f"/workbench/api/sessions/{desk.name}").json()["messages"]
    assert message["parts"] in [m["parts"] for m in detail]
    page = desk.agent.get(f"/workbench/sessions/{desk.name}").content.decode()
    assert 'class="attachment attachment--file"' in page
