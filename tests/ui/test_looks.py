"""Every account state has every look, in one table each: words, JSON name and terminality in core
(STATE_FACTS), icon file, fallback glyph, colour role and rank in the UI (LOOKS); the README and the
packaging tests follow the same tables."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor, QImage, QPainter, QPalette

from desktop_app.core.accounts import STATE_FACTS, AccountState
from desktop_app.ui import delegate, icons
from desktop_app.ui.badges import ALL_LOOKS, LOOKS, Glyph, Tone

ROOT = Path(__file__).resolve().parents[2]


def test_every_state_has_its_facts_and_its_look() -> None:
    assert set(STATE_FACTS) == set(AccountState)
    assert set(LOOKS) == set(AccountState)
    assert all(state.words and state.words[0].isupper() for state in AccountState)
    assert len({state.words for state in AccountState}) == len(AccountState)
    assert {s for s in AccountState if s.is_terminal} == {AccountState.NEEDS_SIGN_IN, AccountState.CONFIG_ERROR}


def test_every_look_has_an_icon_file_a_glyph_and_colours() -> None:
    states = resources.files("desktop_app.resources").joinpath("icons", "states")
    on_disk = {item.name.removesuffix(".svg") for item in states.iterdir() if item.name.endswith(".svg")}
    assert {look.icon for look in ALL_LOOKS} == on_disk  # no look without its file, no file without a look
    assert set(icons.GLYPH_PAINTERS) == set(Glyph)
    for palette in (delegate._LIGHT, delegate._DARK):
        assert set(palette) == set(Tone)


def test_every_glyph_paints_something(qapp: object) -> None:
    for glyph in Glyph:
        image = QImage(16, 16, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        icons.GLYPH_PAINTERS[glyph](painter, 16.0, QColor("black"))
        painter.end()
        assert any(image.pixelColor(x, y).alpha() for x in range(16) for y in range(16)), glyph


def test_tone_colours_come_from_the_table(qapp: object) -> None:
    fg, _ = delegate.tone_colors(LOOKS[AccountState.NEEDS_SIGN_IN].tone, QPalette(QColor("white")))
    assert fg.name() == delegate._LIGHT[Tone.BAD]


def test_the_readme_lists_every_json_state() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `state` |")]
    assert re.findall(r"`([a-z_]+)`", row.split("|")[3]) == [state.value for state in AccountState]
