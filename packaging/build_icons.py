#!/usr/bin/env python3
"""Render the app icon's SVG source into the raster files the platforms want.

Only the SVGs are committed (generated files are not); this writes, under `--out` (default `build/icons`):

- `hicolor/<N>x<N>/apps/dev.tokendesk.Tokendesk.png` for N in 16 24 32 48 64 128 256 512, plus
  `hicolor/scalable/apps/dev.tokendesk.Tokendesk.svg`: a tree to copy into `$prefix/share/icons/`;
- `dev.tokendesk.Tokendesk.ico`: Windows, PNG-compressed entries 16…256 (Vista and later read them);
- `dev.tokendesk.Tokendesk.icns`: macOS, PNG entries 16…1024 including the @2x variants (10.7 and later).

Both containers are written by hand: each is a small header plus PNG blobs, so no Pillow is needed.
Rendering uses PySide6's QSvgRenderer on Qt's offscreen platform: no display, no extra dependency.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
from pathlib import Path

APP_ID = "dev.tokendesk.Tokendesk"
ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "icons" / "app" / f"{APP_ID}.svg"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (OSType, pixel size): the PNG-capable icns element types. ic11…ic14 are the @2x ("retina") variants.
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def render_png(svg: bytes, size: int) -> bytes:
    """The SVG rendered to a `size`×`size` RGBA PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        render_png.app = QGuiApplication([sys.argv[0]])  # type: ignore[attr-defined]  # kept alive
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ValueError("the SVG does not parse")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(buffer, "PNG"):
        raise RuntimeError(f"PNG encoding failed at {size} px")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO container (ICONDIR + ICONDIRENTRYs + PNG payloads); 256 is stored as 0 in the byte fields."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for size in sizes:
        png = pngs[size]
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(payload))
        payload += png
    return header + entries + payload


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICNS container: 'icns' + total length, then (OSType, length, PNG) elements, all big-endian."""
    body = b"".join(ostype + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for ostype, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def build(out: Path, source: Path = SOURCE) -> list[Path]:
    svg = source.read_bytes()
    wanted = sorted({*HICOLOR_SIZES, *ICO_SIZES, *(size for _, size in ICNS_TYPES)})
    pngs = {size: render_png(svg, size) for size in wanted}
    written: list[Path] = []

    def write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)

    for size in HICOLOR_SIZES:
        write(out / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png", pngs[size])
    scalable = out / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, scalable)
    written.append(scalable)
    write(out / f"{APP_ID}.ico", ico_bytes({size: pngs[size] for size in ICO_SIZES}))
    write(out / f"{APP_ID}.icns", icns_bytes(pngs))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "icons", help="output folder (%(default)s)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the SVG to render (%(default)s)")
    args = parser.parse_args(argv)
    for path in build(args.out, args.source):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
