"""Enough of PNG to read a browser's screenshot back: 8-bit RGB or RGBA, not interlaced (what
Chromium writes), with the five row filters of the PNG specification. Test code only: the tests
need pixel colours, not an image library."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {2: 3, 6: 4}  # colour type -> bytes per pixel at bit depth 8


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = x * self.channels
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path} is not a PNG")
    pos, compressed = len(SIGNATURE), bytearray()
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour_type not in CHANNELS or interlace:
                raise ValueError(f"{path}: only 8-bit RGB/RGBA, not interlaced, is read here")
            channels = CHANNELS[colour_type]
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], previous, channels)
        rows.append(row)
        previous = row
    return Image(width, height, channels, rows)


def _unfilter(kind: int, line: bytes, up: bytes, bpp: int) -> bytes:
    if kind == 0:
        return line
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, up))
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 0xFF
        elif kind == 3:
            out[i] = (out[i] + (left + up[i]) // 2) & 0xFF
        elif kind == 4:
            corner = up[i - bpp] if i >= bpp else 0
            guess = left + up[i] - corner
            pa, pb, pc = abs(guess - left), abs(guess - up[i]), abs(guess - corner)
            nearest = left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner
            out[i] = (out[i] + nearest) & 0xFF
        else:
            raise ValueError(f"unknown PNG row filter {kind}")
    return bytes(out)
