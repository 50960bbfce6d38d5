"""Storing files: images are checked, re-encoded (dropping metadata) and thumbnailed."""

from __future__ import annotations

import hashlib
import io
import warnings

import sqlalchemy as sa
from flask_babel import gettext
from PIL import Image, ImageOps

from marketplace.core.errors import DomainError
from marketplace.extensions import db
from marketplace.media.models import MediaFile

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
PHOTO_SIDE = 1200
THUMB_SIDE = 360
#: The only decoders an upload is handed to.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
def _unreadable() -> str:
    return gettext("That file is not a photo we can read (JPEG, PNG or WebP).")


def _too_many_pixels() -> str:
    return gettext(
        "The photo has too many pixels; use one under %(megapixels)s megapixels.",
        megapixels=MAX_PIXELS // 1_000_000,
    )


class InvalidImage(DomainError):
    """The upload is not an image we can use."""


def store_bytes(
    data: bytes, content_type: str, *, width: int | None = None, height: int | None = None,
    original_name: str | None = None,
) -> MediaFile:
    """Store ``data`` once, addressed by its SHA-256; return the (new or existing) file."""
    digest = hashlib.sha256(data).hexdigest()
    found = db.session.scalar(sa.select(MediaFile).where(MediaFile.sha256 == digest))
    if found is not None:
        return found
    media = MediaFile(
        sha256=digest,
        content_type=content_type,
        size_bytes=len(data),
        width=width,
        height=height,
        original_name=original_name,
        data=data,
    )
    db.session.add(media)
    db.session.flush()
    return media


def _encode_jpeg(image: Image.Image, side: int) -> tuple[bytes, int, int]:
    """Fit ``image`` within side×side and encode it as a progressive JPEG."""
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=82, optimize=True, progressive=True)
    return buffer.getvalue(), copy.width, copy.height


def open_image(data: bytes) -> Image.Image:
    """Open and fully decode an upload, refusing what is not a safe raster image.

    Only the JPEG, PNG and WebP decoders are ever tried (so an SVG, a PDF or a text file renamed
    ``.jpg`` never reaches another parser), the declared size is checked before any pixel is
    decoded (so a small file declaring a huge image cannot exhaust memory), and the result is a
    plain RGB image: orientation applied, transparency laid on white, metadata left behind.
    """
    if not data:
        raise InvalidImage(gettext("The file is empty; choose a JPEG, PNG or WebP photo."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImage(
            gettext(
                "The photo is larger than %(megabytes)s MB, the limit for one photo. Make it "
                "smaller and try again.",
                megabytes=MAX_UPLOAD_BYTES // (1024 * 1024),
            )
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if image.format not in ALLOWED_FORMATS:
                raise InvalidImage(gettext("Upload a JPEG, PNG or WebP photo."))
            if image.width < 1 or image.height < 1:
                raise InvalidImage(_unreadable())
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage(_too_many_pixels())
            image.load()
            return _flatten(ImageOps.exif_transpose(image))
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(_too_many_pixels()) from error
    except Exception as error:  # noqa: BLE001 - any decoder failure means "not an image"
        raise InvalidImage(_unreadable()) from error


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB copy; transparent parts become white (not black) as on the shop's pages."""
    if image.mode in {"RGBA", "LA", "PA"} or (
        image.mode == "P" and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def store_photo(
    image: Image.Image, original_name: str | None = None
) -> tuple[MediaFile, MediaFile]:
    """Re-encode a decoded image into a display photo and a thumbnail; store both."""
    photo, w, h = _encode_jpeg(image, PHOTO_SIDE)
    thumb, tw, th = _encode_jpeg(image, THUMB_SIDE)
    return (
        store_bytes(photo, "image/jpeg", width=w, height=h, original_name=original_name),
        store_bytes(thumb, "image/jpeg", width=tw, height=th),
    )
