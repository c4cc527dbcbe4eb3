"""Writes PNG test cases for the label-map decoder (test/png-decoder.test.ts) and what PIL reads from them.

usage: png_cases.py OUT_DIR [EXTRA_PNG ...]

Into OUT_DIR: PNGs written by PIL (indexed 1/2/4/8-bit, greyscale, grey+alpha, optimize on/off),
by OpenCV when cv2 imports (greyscale at several compression levels and strategies; libpng's adaptive
filters), and by a small independent writer below (every filter type on every bit depth, Adam7
interlacing, split IDAT chunks). For each of them and for every EXTRA_PNG, PIL is the oracle:
`np.array(Image.open(p))` is written next to it as raw bytes (`<name>.labels`), and a manifest
(`cases.json`) lists name, size, mode, palette, whether PIL decoded it as a label map, and the writer.
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out = sys.argv[1]
extra = sys.argv[2:]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(16)
cases = []


def labels(w, h, n):
    """Blobs plus noise, values < n: runs and edges like a mask, and changes at every column."""
    yy, xx = np.mgrid[0:h, 0:w]
    m = ((xx // 3 + yy // 2) % n).astype(np.uint8)
    noise = rng.integers(0, n, size=(h, w), dtype=np.uint8)
    pick = rng.random((h, w)) < 0.3
    m[pick] = noise[pick]
    return m


def record(path, writer):
    im = Image.open(path)
    im.load()
    arr = np.array(im)
    label_map = im.mode in ("P", "L", "LA")
    entry = {"name": os.path.basename(path), "writer": writer, "mode": im.mode, "width": im.width, "height": im.height, "labelMap": label_map}
    if label_map:
        if arr.ndim == 3:  # LA: the grey channel is the label
            arr = arr[:, :, 0]
        assert arr.dtype == np.uint8
        with open(path + ".labels", "wb") as f:
            f.write(np.ascontiguousarray(arr).tobytes())
        if im.mode == "P":
            pal = im.getpalette()
            entry["palette"] = [pal[i : i + 3] for i in range(0, len(pal), 3)]
    cases.append(entry)


SIZES = [(1, 1), (7, 3), (33, 17), (64, 48), (101, 9)]

# PIL: palettes of 2, 4, 16 and 256 colours give 1, 2, 4 and 8-bit files.
for colours, bits in [(2, 1), (4, 2), (16, 4), (256, 8)]:
    for w, h in SIZES:
        for optimize in (False, True):
            m = labels(w, h, colours)
            im = Image.frombytes("P", (w, h), m.tobytes())
            pal = rng.integers(0, 256, size=colours * 3).tolist()
            im.putpalette(pal)
            p = os.path.join(out, f"pil-p{bits}-{w}x{h}{'-opt' if optimize else ''}.png")
            im.save(p, optimize=optimize)
            record(p, "PIL")

for w, h in SIZES:
    m = labels(w, h, 256)
    p = os.path.join(out, f"pil-l8-{w}x{h}.png")
    Image.fromarray(m, mode="L").save(p)
    record(p, "PIL")
    a = np.stack([m, labels(w, h, 256)], axis=2)
    p = os.path.join(out, f"pil-la8-{w}x{h}.png")
    Image.fromarray(a, mode="LA").save(p)
    record(p, "PIL")

# Not label maps: RGB, RGBA, 1-bit greyscale (PIL mode "1"), 16-bit greyscale.
m = labels(9, 5, 256)
for mode, arr in [("RGB", np.stack([m, m, m], 2)), ("RGBA", np.stack([m, m, m, m], 2))]:
    p = os.path.join(out, f"pil-{mode.lower()}.png")
    Image.fromarray(arr, mode=mode).save(p)
    record(p, "PIL")
p = os.path.join(out, "pil-bilevel.png")
Image.fromarray(labels(9, 5, 2) * 255).convert("1").save(p)
record(p, "PIL")
p = os.path.join(out, "pil-i16.png")
Image.fromarray(labels(9, 5, 256).astype(np.uint16) * 257).save(p)
record(p, "PIL")

# OpenCV (libpng): greyscale with adaptive filters, several levels and strategies.
try:
    import cv2
except ImportError:
    cv2 = None
if cv2 is not None:
    for w, h in SIZES:
        m = labels(w, h, 256)
        for level in (0, 1, 9):
            for strategy in (cv2.IMWRITE_PNG_STRATEGY_DEFAULT, cv2.IMWRITE_PNG_STRATEGY_FILTERED, cv2.IMWRITE_PNG_STRATEGY_RLE):
                p = os.path.join(out, f"cv2-l8-{w}x{h}-c{level}-s{strategy}.png")
                assert cv2.imwrite(p, m, [cv2.IMWRITE_PNG_COMPRESSION, level, cv2.IMWRITE_PNG_STRATEGY, strategy])
                record(p, "OpenCV")


# An independent writer: every filter type, sub-byte depths, Adam7, IDAT split in pieces.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_row(values, depth, channels):
    if depth == 8:
        return bytes(values.reshape(-1).tolist())
    per = 8 // depth
    row = bytearray((len(values) * depth + 7) // 8)
    for i, v in enumerate(values.tolist()):
        row[i // per] |= v << (8 - depth * (i % per + 1))
    return bytes(row)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp, first_filter):
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for j, row in enumerate(rows):
        ftype = (first_filter + j) % 5
        out.append(ftype)
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][ftype]
            out.append((row[x] - pred) & 0xFF)
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_own(path, m, depth, colour_type, palette, interlace, first_filter, pieces):
    h, w = m.shape[:2]
    channels = 2 if colour_type == 4 else 1
    bpp = max(1, depth * channels // 8)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = m[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = [pack_row(r, depth, channels) for r in sub]
        raw += filter_rows(rows, bpp, first_filter)
    data = zlib.compress(raw, 6)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0)
    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", ihdr)]
    if palette is not None:
        parts.append(chunk(b"PLTE", bytes(sum(palette, []))))
    parts.append(chunk(b"tEXt", b"Comment\x00ancillary chunk to skip"))
    step = max(1, len(data) // pieces + 1)
    for i in range(0, len(data), step):
        parts.append(chunk(b"IDAT", data[i : i + step]))
    parts.append(chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(b"".join(parts))


for depth in (1, 2, 4, 8):
    for w, h in SIZES + [(2, 2), (3, 9), (9, 3)]:
        for interlace in (False, True):
            for first_filter in (0, 3):
                n = 1 << depth
                m = labels(w, h, n)
                palette = [rng.integers(0, 256, size=3).tolist() for _ in range(n)]
                name = f"own-p{depth}-{w}x{h}-{'adam7' if interlace else 'plain'}-f{first_filter}.png"
                p = os.path.join(out, name)
                write_own(p, m, depth, 3, palette, interlace, first_filter, pieces=3)
                record(p, "own test writer")
    for interlace in (False, True):
        m = labels(33, 17, 256)
        p = os.path.join(out, f"own-l8-33x17-{'adam7' if interlace else 'plain'}.png")
        write_own(p, m, 8, 0, None, interlace, 1, pieces=1)
        record(p, "own test writer")
        a = np.stack([m, labels(33, 17, 256)], axis=2)
        p = os.path.join(out, f"own-la8-33x17-{'adam7' if interlace else 'plain'}.png")
        write_own(p, a, 8, 4, None, interlace, 2, pieces=2)
        record(p, "own test writer")

for path in extra:
    copy = os.path.join(out, "given-" + os.path.basename(path))
    with open(path, "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    record(copy, "given")

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump({"cv2": cv2 is not None, "cases": cases}, f)
print(len(cases))
