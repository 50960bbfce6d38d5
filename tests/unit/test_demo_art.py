"""Tests for the seed-time product photos of the demo catalogue."""

from __future__ import annotations

import pytest
from PIL import Image

from marketplace.catalog.demo_art import CATEGORIES, gold_colour, render_piece_photo

SIZE = 240  # small enough to keep the suite quick, large enough for the layout to hold


def _gold_fraction(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of pixels in ``box`` that look like gold: red and green well above blue."""
    data = image.crop(box).tobytes()
    triples = zip(data[0::3], data[1::3], data[2::3], strict=True)
    gold = sum(1 for r, g, b in triples if r - b > 60 and g - b > 35)
    return gold / (len(data) // 3)


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_is_a_square_rgb_photo(category: str) -> None:
    image = render_piece_photo(category, 18, seed=7, size=SIZE)
    assert image.mode == "RGB"
    assert image.size == (SIZE, SIZE)


def test_default_size_is_720() -> None:
    assert render_piece_photo("ring", 22, seed=1).size == (720, 720)


@pytest.mark.parametrize("category", CATEGORIES)
def test_same_arguments_give_identical_pixels(category: str) -> None:
    first = render_piece_photo(category, 14, seed=42, size=SIZE)
    second = render_piece_photo(category, 14, seed=42, size=SIZE)
    assert first.tobytes() == second.tobytes()


@pytest.mark.parametrize("category", CATEGORIES)
def test_different_seeds_give_different_photos(category: str) -> None:
    one = render_piece_photo(category, 18, seed=1, size=SIZE)
    two = render_piece_photo(category, 18, seed=2, size=SIZE)
    assert one.tobytes() != two.tobytes()


def test_karat_changes_the_gold_but_not_the_layout() -> None:
    deep = render_piece_photo("pendant", 22, seed=5, size=SIZE)
    pale = render_piece_photo("pendant", 14, seed=5, size=SIZE)
    assert deep.tobytes() != pale.tobytes()
    assert deep.getpixel((2, 2)) == pale.getpixel((2, 2))  # same backdrop


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("karat", [14, 18, 22])
@pytest.mark.parametrize("seed", range(8))
def test_gold_sits_in_the_centre_and_not_in_the_corners(
    category: str, karat: int, seed: int
) -> None:
    image = render_piece_photo(category, karat, seed=seed, size=SIZE)
    lo, hi = SIZE // 4, SIZE * 3 // 4
    assert _gold_fraction(image, (lo, lo, hi, hi)) > 0.01
    c = SIZE // 10
    corners = [
        (0, 0, c, c),
        (SIZE - c, 0, SIZE, c),
        (0, SIZE - c, c, SIZE),
        (SIZE - c, SIZE - c, SIZE, SIZE),
    ]
    for box in corners:
        assert _gold_fraction(image, box) == 0.0, box


@pytest.mark.parametrize("category", ["necklace", "Ring", "", "rings"])
def test_unknown_category_raises(category: str) -> None:
    with pytest.raises(ValueError):
        render_piece_photo(category, 18, seed=1, size=SIZE)


@pytest.mark.parametrize("karat", [0, 25, -18])
def test_impossible_karat_raises(karat: int) -> None:
    with pytest.raises(ValueError):
        render_piece_photo("ring", karat, seed=1, size=SIZE)


def test_tiny_sizes_raise_and_small_ones_render() -> None:
    with pytest.raises(ValueError):
        render_piece_photo("ring", 18, seed=1, size=16)
    for category in CATEGORIES:
        assert render_piece_photo(category, 18, seed=3, size=32).size == (32, 32)


def test_purer_gold_is_deeper_yellow() -> None:
    assert gold_colour(22) == (212, 160, 40)
    assert gold_colour(18) == (205, 165, 70)
    assert gold_colour(14) == (200, 170, 100)
    blues = [gold_colour(k)[2] for k in (9, 10, 14, 16, 18, 20, 22, 24)]
    assert blues == sorted(blues, reverse=True)
