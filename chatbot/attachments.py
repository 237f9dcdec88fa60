"""Photos and files in a conversation: what an upload may be, where its bytes
are kept, and how they go out again.

An upload is judged by its bytes, never by its name or the browser's
``Content-Type``: JPEG, PNG and WebP images and PDF documents are accepted
(``sniff``); an SVG, an HTML page or a program renamed ``.jpg`` is refused
with 415. Images are decoded and encoded again by Pillow, upright (the EXIF
orientation applied) and with nothing but their pixels and colour profile:
EXIF (GPS position, camera, time), XMP and comments are gone, and so is
anything hidden after or inside the image data. A PDF cannot be rewritten
that way; it is only ever served as a download (``Content-Disposition:
attachment``) in a sandbox.

The bytes go to the ``attachments`` storage (``settings.STORAGES``): a
directory no URL serves, or a bucket several machines share. They are written
after the checks and before the message's transaction; the state machine
deletes them again if the transaction refuses (``chatbot.conversations.post_attachment``).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.http import FileResponse, Http404
from django.urls import reverse
from PIL import Image, ImageOps, UnidentifiedImageError

from chatbot.exceptions import FileTooLarge, InvalidInput, UnsupportedFile
from chatbot.models import Attachment

logger = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000  # a 48 MP phone photo fits; decoded, that is ~150 MB of RGB, the most one upload may cost
THUMBNAIL_SIDE = 480  # pixels: bubbles show images at most 240 CSS px wide, twice that for sharp screens
NAME_MAX_CHARS = 120  # Attachment.name
# Decoding a large photo takes a second of CPU and over 100 MB: two at a time per process, the rest wait.
_DECODING = threading.BoundedSemaphore(2)
# What the file itself says it is, as its first bytes show; its name says nothing.
SANDBOX = "default-src 'none'; sandbox"  # served files run nothing, load nothing, whatever they hold
REFUSED_TYPE = "Only photos (JPEG, PNG or WebP) and PDF files can be sent."


@dataclass(frozen=True)
class Format:
    """An accepted type: its kind of part, MIME type, extension and Pillow's name for it."""

    kind: str
    content_type: str
    extension: str
    pillow: str | None = None


JPEG = Format(Attachment.Kind.IMAGE, "image/jpeg", ".jpg", "JPEG")
PNG = Format(Attachment.Kind.IMAGE, "image/png", ".png", "PNG")
WEBP = Format(Attachment.Kind.IMAGE, "image/webp", ".webp", "WEBP")
PDF = Format(Attachment.Kind.FILE, "application/pdf", ".pdf")


def sniff(head: bytes) -> Format | None:
    """The accepted type ``head`` (a file's first bytes) begins with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


@dataclass(frozen=True)
class Prepared:
    """An upload that passed the checks: the bytes to store and what the part shows."""

    format: Format
    name: str
    data: bytes
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Stored:
    """A prepared upload written to the storage: what an ``Attachment`` row records."""

    prepared: Prepared
    path: str
    thumbnail_path: str = ""

    def fields(self) -> dict[str, Any]:
        prepared = self.prepared
        return {
            "kind": prepared.format.kind,
            "content_type": prepared.format.content_type,
            "name": prepared.name,
            "size": len(prepared.data),
            "width": prepared.width,
            "height": prepared.height,
            "path": self.path,
            "thumbnail_path": self.thumbnail_path,
        }

    def paths(self) -> list[str]:
        return [path for path in (self.path, self.thumbnail_path) if path]


def prepare(upload: Any) -> Prepared:
    """Check an uploaded file and make what will be stored of it.

    400 without a file (or an empty one), 413 over ``ATTACHMENT_MAX_BYTES``
    (or an image of more than ``MAX_PIXELS``), 415 for any other type than
    JPEG, PNG, WebP or PDF, judged by content, and for an image Pillow cannot
    read whole.
    """
    if upload is None or not hasattr(upload, "read"):
        raise InvalidInput("Attach the file in a multipart field named file.")
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise FileTooLarge(f"The file is larger than {limit} bytes.")
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"The file is larger than {limit} bytes.")
    if not data:
        raise InvalidInput("The file is empty.")
    found = sniff(data[:16])
    if found is None:
        raise UnsupportedFile(REFUSED_TYPE)
    name = clean_name(getattr(upload, "name", ""), found)
    if found.kind == Attachment.Kind.FILE:
        return Prepared(found, name, data)
    return _reencoded(found, name, data)


def _reencoded(found: Format, name: str, data: bytes) -> Prepared:
    """The image's pixels, upright, encoded again without metadata, and a thumbnail."""
    with _DECODING:
        try:
            with Image.open(io.BytesIO(data), formats=[found.pillow]) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise FileTooLarge(f"The image has more than {MAX_PIXELS} pixels.")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[found.pillow]) as source:
                source.load()
                image = ImageOps.exif_transpose(source)
        except Image.DecompressionBombError:
            raise FileTooLarge(f"The image has more than {MAX_PIXELS} pixels.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError):
            # Pillow raises any of these on a broken or truncated file.
            raise UnsupportedFile("The image could not be read. " + REFUSED_TYPE) from None
        icc_profile = image.info.get("icc_profile")
        # EXIF, XMP, comments, text chunks: nothing of the source's travels on but its transparency.
        image.info = {key: image.info[key] for key in ("transparency",) if key in image.info}
        image = _storable(image, found)
        clean = _encode(image, found.pillow, icc_profile=icc_profile)
        thumbnail = None
        if image.width > THUMBNAIL_SIDE or image.height > THUMBNAIL_SIDE:
            small = image.copy()
            small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            thumbnail = _encode(_storable(small, WEBP), "WEBP", icc_profile=icc_profile, quality=80)
    return Prepared(found, name, clean, thumbnail=thumbnail, width=image.width, height=image.height)


def _storable(image: Image.Image, target: Format) -> Image.Image:
    """``image`` in a mode ``target``'s encoder writes, transparency kept where it can be."""
    transparent = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    if target is JPEG:
        return image if image.mode in {"L", "RGB", "CMYK"} else image.convert("RGB")
    if target is WEBP:
        return image if image.mode in {"RGB", "RGBA"} else image.convert("RGBA" if transparent else "RGB")
    if "transparency" in image.info:  # a palette or colour-key transparency: keep it as alpha
        return image.convert("RGBA")
    return image


def _encode(image: Image.Image, pillow_format: str, *, icc_profile: bytes | None, quality: int = 90) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"icc_profile": icc_profile} if icc_profile else {}
    if pillow_format in {"JPEG", "WEBP"}:
        options["quality"] = quality
    image.save(out, format=pillow_format, **options)
    return out.getvalue()


INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}  # controls, bidi overrides, zero-width joiners, private use


def clean_name(raw: Any, found: Format) -> str:
    """The sender's file name, safe to show and to offer as a download name:
    no directories, no invisible characters, at most ``NAME_MAX_CHARS``, and
    the extension of what the file really is (``invoice.html`` that is a PDF
    becomes ``invoice.pdf``)."""
    base = re.split(r"[/\\]", raw if isinstance(raw, str) else "")[-1]
    base = "".join(char for char in unicodedata.normalize("NFC", base) if unicodedata.category(char) not in INVISIBLE)
    base = " ".join(base.split())
    stem = (base.rsplit(".", 1)[0] if "." in base else base).strip(" .")
    stem = stem[: NAME_MAX_CHARS - len(found.extension)]
    if not stem:
        stem = "photo" if found.kind == Attachment.Kind.IMAGE else "document"
    return stem + found.extension


# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------
def storage() -> Storage:
    """The ``attachments`` storage of ``settings.STORAGES``."""
    return storages["attachments"]


def save(prepared: Prepared) -> Stored:
    """Write a prepared upload (and its thumbnail) under new random names."""
    key = uuid.uuid4().hex
    files = storage()
    path = files.save(f"{key[:2]}/{key}{prepared.format.extension}", ContentFile(prepared.data))
    thumbnail_path = ""
    if prepared.thumbnail is not None:
        try:
            thumbnail_path = files.save(f"{key[:2]}/{key}-thumbnail.webp", ContentFile(prepared.thumbnail))
        except BaseException:
            delete([path])
            raise
    return Stored(prepared, path, thumbnail_path)


def delete(paths: Iterable[str]) -> None:
    """Remove stored files; one that is already gone, or cannot be removed, is logged, not raised."""
    files = storage()
    for path in paths:
        try:
            files.delete(path)
        except Exception:  # an orphan file must not fail the request that made it
            logger.exception("Could not delete the attachment file %s", path)


def stored_paths(session_id: int) -> list[str]:
    """Every file a conversation's attachments keep, thumbnails included (for erasure)."""
    rows = Attachment.objects.filter(session_id=session_id).values_list("path", "thumbnail_path")
    return [path for pair in rows for path in pair if path]


# ---------------------------------------------------------------------------
# Parts and responses
# ---------------------------------------------------------------------------
def part(attachment: Attachment, session_name: str) -> dict[str, Any]:
    """The message part that shows an attachment (``type`` "image" or "file").

    ``url`` answers only the conversation's customer and agents; an image's
    ``thumbnail`` is a smaller copy for the bubble (its own ``url`` when the
    image is small already).
    """
    url = reverse("chatbot:attachment", args=[session_name, attachment.pk])
    shown: dict[str, Any] = {
        "type": attachment.kind,
        "url": url,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
    }
    if attachment.kind == Attachment.Kind.IMAGE:
        shown["width"], shown["height"] = attachment.width, attachment.height
        shown["thumbnail"] = f"{url}?thumbnail=1" if attachment.thumbnail_path else url
    return shown


def file_response(attachment: Attachment, *, thumbnail: bool = False) -> FileResponse:
    """The stored file, as its real type and never as anything a browser runs.

    Images open inline, PDFs download; either way ``nosniff``, a sandboxing
    Content-Security-Policy, and a cache private to the browser that may see it.
    """
    small = thumbnail and bool(attachment.thumbnail_path)
    path = attachment.thumbnail_path if small else attachment.path
    try:
        handle = storage().open(path, "rb")
    except (FileNotFoundError, OSError):
        logger.warning("Attachment %s has no stored file at %s", attachment.pk, path)
        raise Http404("File not found.") from None
    response = FileResponse(
        handle,
        content_type="image/webp" if small else attachment.content_type,
        as_attachment=attachment.kind == Attachment.Kind.FILE,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=86400"
    response["Vary"] = "Cookie"
    return response
