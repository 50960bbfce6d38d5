"""A page gzipped once, with holes for a short string each visitor gets their own of (a form
token), filled in without compressing the page again.

Each part between the holes is deflated on its own and ends on a full flush (byte-aligned, with
no reference to what came before it), so the parts and the filler, deflated on its own too, laid
end to end make one valid deflate stream. The gzip trailer needs the CRC-32 of the whole page:
CRC-32 is affine over GF(2), so for three strings of one length
``crc(a ^ b ^ c) == crc(a) ^ crc(b) ^ crc(c)``. With a = the page with zero bytes in the holes,
b = zero bytes with the filler in the holes and c = zero bytes only, a ^ b ^ c is the page: a's
and c's CRCs are computed once, b's is one pass over zero bytes. No copy of the page is kept.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

#: gzip member header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_ZEROS = bytes(1 << 18)


@dataclass(frozen=True)
class GzipParts:
    """A page in deflated parts, with a hole of ``hole`` bytes between each two."""

    parts: tuple[bytes, ...]
    lengths: tuple[int, ...]
    hole: int
    crc_template: int
    crc_zeros: int

    @property
    def size(self) -> int:
        """The page's length, holes filled."""
        return sum(self.lengths) + self.hole * (len(self.parts) - 1)


def _deflate(data: bytes, level: int, *, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH
    )


def _crc_of_zeros(length: int, crc: int = 0) -> int:
    while length > 0:
        step = min(length, len(_ZEROS))
        crc = zlib.crc32(memoryview(_ZEROS)[:step], crc)
        length -= step
    return crc


def pack(body: bytes, placeholder: bytes, hole: int, level: int = 6) -> GzipParts:
    """``body`` deflated around each ``placeholder``, to be filled with ``hole`` bytes."""
    pieces = body.split(placeholder) if placeholder else [body]
    if len(pieces) == 1:
        hole = 0
    last = len(pieces) - 1
    lengths = tuple(len(piece) for piece in pieces)
    template = (b"\x00" * hole).join(pieces)
    return GzipParts(
        parts=tuple(_deflate(piece, level, last=i == last) for i, piece in enumerate(pieces)),
        lengths=lengths,
        hole=hole,
        crc_template=zlib.crc32(template),
        crc_zeros=_crc_of_zeros(len(template)),
    )


def fill(packed: GzipParts, filler: bytes = b"") -> bytes:
    """The page as one gzip member, each hole filled with ``filler`` (exactly ``hole`` bytes)."""
    if len(packed.parts) == 1:
        crc = packed.crc_template
        stream = packed.parts[0]
    else:
        if len(filler) != packed.hole:
            raise ValueError(f"the filler must be {packed.hole} bytes, not {len(filler)}")
        crc_filler = _crc_of_zeros(packed.lengths[0])
        for length in packed.lengths[1:]:
            crc_filler = _crc_of_zeros(length, zlib.crc32(filler, crc_filler))
        crc = packed.crc_template ^ crc_filler ^ packed.crc_zeros
        stream = _deflate(filler, 1, last=False).join(packed.parts)
    return _HEADER + stream + struct.pack("<II", crc, packed.size & 0xFFFFFFFF)


def unpack(packed: GzipParts, filler: bytes = b"") -> bytes:
    """The page itself, each hole filled with ``filler`` (of any length)."""
    return filler.join(zlib.decompressobj(-15).decompress(part) for part in packed.parts)
