"""The slides as an animated GIF: each frame (see `enas.teach.frames`) drawn with Pillow at 1280x720, no graphviz and no
browser: a header (run, epoch, validation reward, progress), the architecture as a chain of op boxes with skip
arcs, and the policy as two heatmaps with their numbers. Frames share one fixed palette, so the GIF stays small.
"""
from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw, ImageFont

from enas.space import Architecture
from enas.teach.draw import END_COLOR, FONT_COLORS, OP_COLORS, SKIP_COLOR
from enas.teach.frames import OP_HEAT, SKIP_HEAT, Frame, check_fps, ramp, reward_text, steered_text

W, H, M = 1280, 720, 40                 # frame size and margin, pixels
INK, GREY, EDGE = (37, 37, 37), (115, 115, 115), (82, 82, 82)
STEERED = (179, 88, 6)   # a frame's steering changes, in orange (the HTML slides' colour too)
HOLD = 3                                # the last frame stays this many frame times


def _rgb(color: str) -> tuple:
    return tuple(int(color[k:k + 2], 16) for k in (1, 3, 5))


def _blend(a: tuple, b: tuple, t: float) -> tuple:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


@functools.lru_cache(maxsize=1)
def palette() -> Image.Image:
    """The GIF's one palette: greys, both heatmap ramps, every op colour shaded towards its text and outline."""
    white, black = (255, 255, 255), (0, 0, 0)
    colors = [_blend(white, black, k / 31) for k in range(32)]
    colors += [ramp(k / 31, OP_HEAT) for k in range(32)] + [ramp(k / 31, SKIP_HEAT) for k in range(32)]
    for c in [*OP_COLORS.values(), END_COLOR, SKIP_COLOR]:
        for to in (white, black, EDGE):
            colors += [_blend(_rgb(c), to, k / 8) for k in range(8)]
    # the first colour of each cell of 8 values a channel: Pillow maps a pixel to a colour of its cell, so only
    # white may share white's
    colors = list({tuple(v >> 3 for v in c): c for c in reversed(colors)}.values())[::-1][:256]
    img = Image.new("P", (1, 1))
    img.putpalette([v for c in colors for v in c])
    return img


@functools.lru_cache(maxsize=32)
def font(size: int, style: str = "") -> ImageFont.FreeTypeFont:
    """DejaVu Sans (style "" / "Bold" / "Mono") if installed, else Pillow's own font at that size."""
    name = {"": "DejaVuSans.ttf", "Bold": "DejaVuSans-Bold.ttf", "Mono": "DejaVuSansMono.ttf"}[style]
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size)


def _fit(d: ImageDraw.ImageDraw, text: str, width: float, size: int, style: str = "") -> ImageFont.FreeTypeFont:
    """The largest font of at most `size` in which `text` fits `width`."""
    while size > 9 and d.textlength(text, font=font(size, style)) > width:
        size -= 1
    return font(size, style)


def draw_chain(d: ImageDraw.ImageDraw, arch: Architecture, top: int, bottom: int):
    """Stem, one box per node (op colour, op name), tail, chain arrows; one arc per skip above the boxes."""
    labels = [("stem", "3x3 conv", _rgb(END_COLOR), INK)]
    labels += [(f"node {i}", op, _rgb(OP_COLORS[op]), _rgb("#ffffff") if FONT_COLORS[op] == "white" else INK)
               for i, op in enumerate(arch.ops)]
    labels.append(("tail", "classifier", _rgb(END_COLOR), INK))
    gap = 26
    bw = min(150.0, (W - 2 * M - gap * (len(labels) - 1)) / len(labels))
    bh = min(76, bottom - top - 60)
    y0 = bottom - bh
    xs = [M + k * (bw + gap) for k in range(len(labels))]
    span_max = max((i - j for i in range(arch.nodes) for j in arch.inputs(i)), default=1)
    for i in range(arch.nodes):
        for j in arch.inputs(i):
            shift = min(bw / 2 - 10, 6 * (i - j))
            x0, x1 = xs[j + 1] + bw / 2 + shift, xs[i + 1] + bw / 2 - shift
            h = 16 + (y0 - top - 22) * (i - j) / span_max
            d.arc((x0, y0 - h, x1, y0 + h), 180, 360, fill=_rgb(SKIP_COLOR), width=4)
            d.polygon([(x1 - 7, y0 - 12), (x1 + 7, y0 - 12), (x1, y0 - 1)], fill=_rgb(SKIP_COLOR))
    for k, (name, text, fill, ink) in enumerate(labels):
        x = xs[k]
        d.rounded_rectangle((x, y0, x + bw, y0 + bh), radius=10, fill=fill, outline=EDGE, width=2)
        d.text((x + bw / 2, y0 + bh * 0.3), name, font=_fit(d, name, bw - 10, 18), fill=ink, anchor="mm")
        d.text((x + bw / 2, y0 + bh * 0.68), text, font=_fit(d, text, bw - 10, 22, "Bold"), fill=ink, anchor="mm")
        if k:
            ya = y0 + bh / 2
            d.line((x - gap, ya, x - 4, ya), fill=EDGE, width=3)
            d.polygon([(x - 11, ya - 6), (x - 11, ya + 6), (x - 1, ya)], fill=EDGE)


def draw_heatmap(d: ImageDraw.ImageDraw, box: tuple, title: str, cols: list, rows: list, hi: tuple):
    """A heatmap in `box` (x0, y0, x1, y1): rows are (label, [p or None]), each cell coloured by p, with its number."""
    x0, y0, x1, y1 = box
    d.text((x0, y0), title, font=font(20, "Bold"), fill=INK)
    head, lab = 34, 96
    cw = (x1 - x0 - lab) / len(cols)
    ch = min(46.0, (y1 - y0 - 30 - head) / len(rows))
    top = y0 + 30 + head
    for c, name in enumerate(cols):
        d.text((x0 + lab + (c + 0.5) * cw, top - 6), name, font=_fit(d, name, cw - 4, 16), fill=GREY, anchor="md")
    size = max(10, min(22, int(ch * 0.5), int(cw / 3.2)))
    for r, (label, ps) in enumerate(rows):
        y = top + r * ch
        d.text((x0 + lab - 10, y + ch / 2), label, font=font(min(18, size), ""), fill=INK, anchor="rm")
        for c, p in enumerate(ps):
            if p is None:
                continue
            cx = x0 + lab + c * cw
            d.rectangle((cx + 1, y + 1, cx + cw - 1, y + ch - 1), fill=ramp(p, hi))
            d.text((cx + cw / 2, y + ch / 2), f"{p:.2f}", font=font(size), anchor="mm",
                   fill=(255, 255, 255) if p > 0.55 else (0, 0, 0))


def render(frame: Frame, name: str) -> Image.Image:
    """One frame as an RGB image."""
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((M, 22), f"ENAS search {name}", font=_fit(d, f"ENAS search {name}", 760, 30, "Bold"), fill=INK)
    d.text((W - M, 16), f"epoch {frame.epoch} / {frame.epochs}", font=font(40, "Bold"), fill=INK, anchor="ra")
    d.text((M, 68), reward_text(frame), font=_fit(d, reward_text(frame), W - 2 * M, 20), fill=INK)
    d.rectangle((M, 102, W - M, 108), fill=(230, 230, 230))
    d.rectangle((M, 102, M + (W - 2 * M) * frame.epoch / frame.epochs, 108), fill=GREY)
    caption = f"Architecture: {frame.source}"
    d.text((M, 122), caption, font=_fit(d, caption, W - 2 * M, 20), fill=GREY)
    if frame.steered:   # the interventions of this epoch, in the steering colour
        d.text((W - M, 122), steered_text(frame), font=_fit(d, steered_text(frame), (W - 2 * M) // 2, 20),
               fill=STEERED, anchor="ra")
    draw_chain(d, Architecture.parse(frame.arch), 150, 338)
    d.text((W / 2, 362), frame.arch, font=_fit(d, frame.arch, W - 2 * M, 26, "Mono"), fill=INK, anchor="mm")
    d.line((M, 392, W - M, 392), fill=(217, 217, 217), width=1)
    pol = frame.policy
    if pol is None:
        d.text((M, 410), "No policy was recorded for this epoch.", font=font(20), fill=GREY)
        return img
    n = len(pol["op_probs"])
    draw_heatmap(d, (M, 406, 600, H - 14), "Op probabilities per node", list(pol["ops"]),
                 [(f"node {i}", row) for i, row in enumerate(pol["op_probs"])], OP_HEAT)
    if n > 1:
        draw_heatmap(d, (660, 406, W - M, H - 14), "Skip probabilities: node i adds node j",
                     [f"from {j}" for j in range(n - 1)],
                     [(f"node {i}", [row[j] if j < i else None for j in range(n - 1)])
                      for i, row in enumerate(pol["skip_probs"]) if i], SKIP_HEAT)
    return img


def gif_bytes(frames: list, name: str, fps: float = 2.0) -> bytes:
    """The frames as an animated GIF (1280x720, one palette, looping; the last frame held a little longer)."""
    ms = round(1000 / check_fps(fps))
    images = [render(f, name).quantize(palette=palette(), dither=Image.Dither.NONE) for f in frames]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=[ms] * (len(images) - 1) + [ms * HOLD])
    return out.getvalue()
