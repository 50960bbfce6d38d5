"""The cart lives in the signed session cookie, so it works for guests and survives sign-in."""

from __future__ import annotations

from flask import session

MAX_LINES = 30


def get_cart() -> dict[int, int]:
    """The cart as {piece id: quantity}, ignoring anything malformed."""
    raw = session.get("cart", {})
    cart: dict[int, int] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            key_text = str(key)
            if key_text.isascii() and key_text.isdigit() and isinstance(value, int) and value > 0:
                cart[int(key)] = value
    return cart


def save_cart(cart: dict[int, int]) -> None:
    """Store the cart (dropping empty lines)."""
    session["cart"] = {str(k): v for k, v in list(cart.items())[:MAX_LINES] if v > 0}


def clear_cart() -> None:
    """Empty the cart (after an order is placed)."""
    session.pop("cart", None)


def cart_count() -> int:
    """Units in the cart (for the header)."""
    return sum(get_cart().values())
