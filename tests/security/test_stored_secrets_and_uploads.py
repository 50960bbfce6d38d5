"""What the database keeps of a reset link, and what it keeps of an uploaded photo."""

from __future__ import annotations

import hashlib
import io

import sqlalchemy as sa
from PIL import Image

from marketplace.accounts.models import PasswordReset
from marketplace.accounts.services import start_password_reset
from marketplace.catalog.models import PiecePhoto
from marketplace.extensions import db
from marketplace.media.models import MediaFile


def test_a_reset_link_is_kept_only_as_the_hash_of_its_token(app):
    started = start_password_reset("buyer@demo.test")
    assert started is not None
    _, token = started

    rows = db.session.execute(sa.select(PasswordReset.__table__)).all()

    assert token not in repr(rows)
    stored = db.session.scalar(
        sa.select(PasswordReset.token_hash).order_by(PasswordReset.id.desc()).limit(1)
    )
    assert stored == hashlib.sha256(token.encode()).hexdigest()


def _photo_with_gps_and_a_script() -> bytes:
    """A JPEG that carries a GPS position in its EXIF and HTML after its last byte."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x8825] = {1: "S", 2: (14.0, 40.0, 0.0), 3: "W", 4: (69.0, 26.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (166, 111, 0)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue() + b"<script>alert(document.cookie)</script>"


def test_an_uploaded_photo_is_re_encoded_without_its_metadata_or_anything_appended(
    client, as_user, world
):
    piece_id = world.values["piece_id"]
    upload = _photo_with_gps_and_a_script()
    assert Image.open(io.BytesIO(upload)).getexif()  # the upload does carry EXIF
    as_user("jeweller@demo.test")

    response = client.post(
        f"/jeweller/pieces/{piece_id}/photos",
        data={"photo": (io.BytesIO(upload), "holiday.jpg"), "alt": "A ring on a table"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    photo = db.session.scalar(
        sa.select(PiecePhoto).where(PiecePhoto.piece_id == piece_id)
        .order_by(PiecePhoto.id.desc()).limit(1)
    )
    assert photo is not None and photo.alt == "A ring on a table"
    for media in (photo.image, photo.thumb):
        stored = db.session.scalar(sa.select(MediaFile.data).where(MediaFile.id == media.id))
        assert stored is not None
        assert b"<script" not in stored and b"Camera maker" not in stored
        assert not Image.open(io.BytesIO(stored)).getexif()
        assert media.sha256 == hashlib.sha256(stored).hexdigest() != hashlib.sha256(
            upload
        ).hexdigest()
        served = client.get(f"/media/{media.sha256}.{media.extension}")
        assert served.data == stored
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.mimetype in ("image/jpeg", "image/png", "image/webp")
