"""Finding English left on a Spanish page: the runs of English text of an area's messages, and
what a person reads or hears on a page. Shared by the language tests of each area."""

from __future__ import annotations

import functools
import html
import re

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from marketplace.i18n import TRANSLATIONS

PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER_OR_TAG = re.compile(r"%\([a-z_]+\)[sd]|%%|<[^>]+>")
#: Attributes read aloud or shown: their text counts as the page's.
SPOKEN = re.compile(
    r'\b(?:alt|title|aria-label|placeholder|data-label|data-say-[a-z-]+)="([^"]*)"'
)


def catalog() -> Catalog:
    """The Spanish catalog as it is on disk."""
    with PO.open("rb") as handle:
        return read_po(handle, locale="es")


@functools.cache
def english_of(area: tuple[str, ...]) -> frozenset[str]:
    """Every run of English longer than 15 characters in the messages used under ``area`` (path
    prefixes) that their Spanish does not share: the text between placeholders and tags, so
    sentences with figures count too."""
    runs: set[str] = set()
    for message in catalog():
        if not message.id or not any(path.startswith(area) for path, _ in message.locations):
            continue
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        spanish = message.string if isinstance(message.string, tuple) else (message.string,)
        if set(english) & set(spanish):
            continue  # written the same in both languages (a code, a name)
        for text in english:
            for run in PLACEHOLDER_OR_TAG.split(text):
                run = " ".join(run.split())
                if len(run) > 15 and not any(run in other for other in spanish):
                    runs.add(run)  # (a card number or a command is the same in Spanish)
    return frozenset(runs)


def readable(page: str) -> str:
    """What a person reads or hears on a page: its text and the attributes read aloud."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    spoken = SPOKEN.findall(page)
    text = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(" ".join([text, *spoken])).replace("\xa0", " ").split())


def english_left(page: str, area: tuple[str, ...]) -> list[str]:
    """The English runs of ``area`` found on ``page``."""
    text = readable(page)
    return sorted(run for run in english_of(area) if run in text)
