"""A page gzipped once in parts, its holes filled per visitor: always a valid gzip member of
exactly the page with the filler in it (the CRC-32 and length checked by the decoder)."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.gzip_parts import fill, pack, unpack

HOLE = b"\x00form-token\x00"
parts = st.lists(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode), max_size=4)


@settings(max_examples=200, deadline=None)
@given(parts, st.binary(min_size=1, max_size=120), st.sampled_from([1, 6, 9]))
def test_a_filled_page_decodes_to_the_page_with_the_filler_in_each_hole(pieces, filler, level):
    pieces = [p.replace(HOLE, b"") for p in pieces] or [b""]
    packed = pack(HOLE.join(pieces), HOLE, len(filler), level)
    expected = filler.join(pieces)
    assert gzip.decompress(fill(packed, filler)) == expected
    assert zlib.decompress(fill(packed, filler), wbits=31) == expected
    assert unpack(packed, filler) == expected
    assert packed.size == len(expected)


def test_a_page_without_holes_is_one_gzip_member_of_itself():
    body = b"<html>" + b"gold " * 5000 + b"</html>"
    packed = pack(body, HOLE, 40)
    assert packed.hole == 0 and len(packed.parts) == 1
    assert gzip.decompress(fill(packed)) == body
    assert len(fill(packed)) < len(body) / 10


def test_a_filler_of_another_length_is_refused_but_can_still_be_unpacked():
    packed = pack(b"before" + HOLE + b"after", HOLE, 4)
    with pytest.raises(ValueError):
        fill(packed, b"toolong")
    assert unpack(packed, b"toolong") == b"beforetoolongafter"
