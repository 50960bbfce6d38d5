"""The checkout's selects: options escaped once and reused, with the same HTML as WTForms'."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField
from wtforms.widgets import Select

from marketplace.orders.forms import KeptOptionsSelect, country_choices

LABELS = st.text(alphabet=st.sampled_from('abcÅé<>&"\' —'), max_size=6)
CHOICES = st.lists(st.tuples(st.text("ab<&\"'", max_size=3), LABELS), max_size=8)


def _both(choices: list[tuple[str, str]], data: str | None, **kwargs: str) -> tuple[str, str]:
    class Kept(Form):
        pick = SelectField(widget=KeptOptionsSelect())

    class Plain(Form):
        pick = SelectField(widget=Select())

    rendered = []
    for form_class in (Kept, Plain):
        form = form_class(MultiDict({"pick": data}) if data is not None else None)
        form.pick.choices = choices
        rendered.append(str(form.pick(**kwargs)))
    return rendered[0], rendered[1]


@pytest.mark.parametrize("locale", ["en", "es_PE"])
@pytest.mark.parametrize("chosen", [None, "PE", "AX", "ZW", "not-a-country"])
def test_country_select_renders_what_wtforms_renders(locale: str, chosen: str | None) -> None:
    kept, plain = _both(country_choices(locale), chosen, autocomplete="country")
    assert kept == plain
    assert kept.count("<option") == len(country_choices(locale))
    if chosen == "PE":
        assert 'selected value="PE"' in kept


@given(CHOICES, st.one_of(st.none(), st.text("ab<&\"'", max_size=3)))
def test_any_plain_choices_render_what_wtforms_renders(
    choices: list[tuple[str, str]], data: str | None
) -> None:
    kept, plain = _both(choices, data)
    assert kept == plain


def test_choices_that_are_not_plain_pairs_are_left_to_wtforms() -> None:
    kept, plain = _both([("a", "A"), ("b", "B", {"disabled": True})], "a")  # type: ignore[list-item]
    assert kept == plain
