"""The shipped art: every agreed SVG exists, is self-contained, and renders; the raster builds are sound."""

from __future__ import annotations

import importlib.util
import re
import struct
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from .common import APP_ID, PACKAGING, PROVIDERS, RESOURCES, ROOT, STATES

pytestmark = pytest.mark.gui

SVG_NS = "{http://www.w3.org/2000/svg}"
APP_SVG = RESOURCES / "icons" / "app" / f"{APP_ID}.svg"
STATE_SVGS = {name: RESOURCES / "icons" / "states" / f"{name}.svg" for name in STATES}
PROVIDER_SVGS = {key: RESOURCES / "icons" / "providers" / f"{key}.svg" for key in PROVIDERS}
ALL_SVGS = [APP_SVG, *STATE_SVGS.values(), *PROVIDER_SVGS.values()]
GLYPH_COLOUR = "#2e3436"


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg.read_bytes()))
    assert renderer.isValid(), f"{svg.name} does not parse as SVG"
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def alpha_mask(image: QImage) -> list[int]:
    return [image.pixelColor(x, y).alpha() for y in range(image.height()) for x in range(image.width())]


def test_resources_is_the_package_data_the_app_loads() -> None:
    """resources/ is importable as desktop_app.resources and is where the app's icons come from."""
    root = resources.files("desktop_app.resources")
    assert root.joinpath("icons", "app", f"{APP_ID}.svg").is_file()
    assert root.joinpath("loopback", "result.html").is_file()


@pytest.mark.parametrize("svg", ALL_SVGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_svg_is_self_contained_and_renders(qapp: object, svg: Path) -> None:
    assert svg.is_file(), f"missing {svg.relative_to(ROOT)}"
    text = svg.read_text(encoding="utf-8")
    root = ET.fromstring(text)  # well-formed XML
    assert root.tag == f"{SVG_NS}svg"
    view_box = [float(v) for v in root.attrib["viewBox"].split()]
    expected = {"app": 128.0, "states": 16.0, "providers": 32.0}[svg.parent.name]
    assert view_box == [0.0, 0.0, expected, expected]
    # No external references, no raster images, no text (fonts may be missing): shapes only.
    assert not re.search(r"(?:xlink:)?href\s*=", text)
    assert "url(" not in text
    assert root.find(f".//{SVG_NS}image") is None
    assert root.find(f".//{SVG_NS}text") is None
    assert root.find(f".//{SVG_NS}title") is not None, "a <title> names the icon for accessibility tools"
    for size in (16, 64):
        drawn = sum(1 for a in alpha_mask(render(svg, size)) if a > 0)
        assert drawn > size * size // 10, f"{svg.name} renders (almost) nothing at {size}px"


@pytest.mark.parametrize("name", STATES)
def test_state_glyph_is_one_recolourable_colour(name: str) -> None:
    text = STATE_SVGS[name].read_text(encoding="utf-8")
    colours = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", text)}
    assert colours == {GLYPH_COLOUR}, f"{name}.svg must use only {GLYPH_COLOUR}: {colours}"
    root = ET.fromstring(text)
    assert root.find(f".//{SVG_NS}g[@id='glyph']") is not None, "the UI finds the glyph by id"
    for element in root.iter():
        assert element.get("opacity") in (None, "1")  # transparent background, opaque glyph


def test_state_glyphs_differ_in_shape_not_just_colour(qapp: object) -> None:
    """Each state is told apart by its silhouette at the badge size (colour is never the only cue)."""
    masks = {name: alpha_mask(render(path, 16)) for name, path in STATE_SVGS.items()}
    names = list(masks)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            differing = sum(1 for x, y in zip(masks[a], masks[b], strict=True) if abs(x - y) > 96)
            assert differing >= 20, f"{a} and {b} look alike at 16 px ({differing} pixels differ)"


def test_provider_glyphs_are_distinct(qapp: object) -> None:
    images = {key: render(path, 32) for key, path in PROVIDER_SVGS.items()}
    seen: dict[bytes, str] = {}
    for key, image in images.items():
        digest = bytes(image.constBits())
        assert digest not in seen, f"{key} renders identically to {seen.get(digest)}"
        seen[digest] = key


def _load_build_icons() -> object:
    spec = importlib.util.spec_from_file_location("build_icons", PACKAGING / "build_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_icons_writes_hicolor_pngs_ico_and_icns(qapp: object, tmp_path: Path) -> None:
    build_icons = _load_build_icons()
    written = build_icons.build(tmp_path)  # type: ignore[attr-defined]
    assert all(p.is_file() for p in written)
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = tmp_path / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        image = QImage(str(png))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0, "corners stay transparent"
    scalable = tmp_path / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    assert scalable.read_bytes() == APP_SVG.read_bytes()

    ico = (tmp_path / f"{APP_ID}.ico").read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", ico)
    assert (reserved, kind, count) == (0, 1, 7)
    sizes = []
    for i in range(count):
        width, _h, _c, _r, _planes, _bpp, length, offset = struct.unpack_from("<BBBBHHII", ico, 6 + 16 * i)
        assert ico[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(ico)
        sizes.append(width or 256)
    assert sizes == [16, 24, 32, 48, 64, 128, 256]

    icns = (tmp_path / f"{APP_ID}.icns").read_bytes()
    assert icns[:4] == b"icns"
    assert struct.unpack_from(">I", icns, 4)[0] == len(icns)
    types, pos = [], 8
    while pos < len(icns):
        ostype, length = icns[pos : pos + 4], struct.unpack_from(">I", icns, pos + 4)[0]
        assert icns[pos + 8 : pos + 16] == b"\x89PNG\r\n\x1a\n"
        types.append(ostype.decode())
        pos += length
    assert pos == len(icns)
    assert {"ic07", "ic08", "ic09", "ic10"} <= set(types)
