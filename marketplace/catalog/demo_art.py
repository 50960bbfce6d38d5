"""Seed-time product photos for the demo catalogue.

This module owns the procedural "studio shots" that the demo data attaches to
jewellers' pieces. Nothing is downloaded and no image files are shipped: every
photo is drawn with Pillow from ``(category, karat, seed)``, is reproducible pixel
for pixel, and takes a few tens of milliseconds at 720 px, so seeding stays quick.

A photo is a soft studio backdrop (a muted vertical or radial gradient picked from
the seed), a blurred shadow, and one gold piece whose colour follows its karat.
Metal is painted as a grayscale *shade map* plus a coverage map on a supersampled
canvas; the shade map is then tone-mapped through a karat-specific gold ramp
(dark edge -> body -> highlight -> specular) and downscaled with LANCZOS. Gem
stones are painted in colour on small supersampled patches.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = ["CATEGORIES", "gold_colour", "render_piece_photo"]

#: The piece categories :func:`render_piece_photo` knows how to draw.
CATEGORIES: tuple[str, ...] = ("ring", "chain", "earrings", "bracelet", "pendant")

Point = tuple[float, float]
RGB = tuple[int, int, int]

_SS = 2  # supersampling factor of the metal canvas and gem patches
_MIN_SIZE = 32
_LANCZOS = Image.Resampling.LANCZOS
_BILINEAR = Image.Resampling.BILINEAR
_ROUND_JOINTS = 16  # strokes at least this wide (canvas pixels) get rounded joints
_RAMP_SAMPLES = 96  # a shading ramp is evaluated this often, then stretched

#: Body colour of the alloy at a few karats; other karats are interpolated.
_KARAT_STOPS: tuple[tuple[int, RGB], ...] = (
    (9, (196, 174, 124)),
    (14, (200, 170, 100)),
    (18, (205, 165, 70)),
    (22, (212, 160, 40)),
    (24, (216, 154, 28)),
)

#: Muted studio backdrops: warm stone, slate, sage, clay, ivory, dusk blue,
#: charcoal, blush grey.
_BACKDROPS: tuple[RGB, ...] = (
    (190, 181, 168),
    (124, 135, 147),
    (160, 171, 152),
    (180, 154, 141),
    (230, 224, 211),
    (150, 162, 176),
    (96, 99, 106),
    (204, 192, 187),
)

#: Stone colours; diamond is listed twice so it turns up most often.
_GEMS: tuple[RGB, ...] = (
    (222, 230, 240),  # diamond
    (222, 230, 240),
    (176, 28, 56),  # ruby
    (40, 66, 162),  # sapphire
    (30, 134, 88),  # emerald
)

_EDGE_SHADE = 70  # shade of the empty canvas: rims blend toward dark gold when downscaled
_WIRE_LAYERS: tuple[tuple[float, float, int], ...] = (
    # (width fraction, offset toward the light as a fraction of width, shade)
    (1.0, 0.0, 96),
    (0.74, 0.10, 152),
    (0.46, 0.17, 208),
    (0.18, 0.22, 252),
)


# --------------------------------------------------------------------------- colour


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    """Blend colour ``a`` toward ``b`` by ``t`` (0 = a, 1 = b)."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _scale(c: RGB, k: float) -> RGB:
    """Multiply a colour's channels by ``k``, clamped to 0..255."""
    return (min(255, round(c[0] * k)), min(255, round(c[1] * k)), min(255, round(c[2] * k)))


def _ramp(stops: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear lookup of ``x`` in ascending ``(position, value)`` stops."""
    if x <= stops[0][0]:
        return stops[0][1]
    for (x0, v0), (x1, v1) in zip(stops, stops[1:], strict=False):
        if x <= x1:
            return v0 + (v1 - v0) * (x - x0) / (x1 - x0)
    return stops[-1][1]


def gold_colour(karat: int) -> RGB:
    """Return the body colour of gold of ``karat`` (1..24): purer gold is deeper yellow."""
    if not 1 <= karat <= 24:
        raise ValueError(f"karat must be between 1 and 24, got {karat}")
    first, last = _KARAT_STOPS[0], _KARAT_STOPS[-1]
    if karat <= first[0]:
        return first[1]
    for (k0, c0), (k1, c1) in zip(_KARAT_STOPS, _KARAT_STOPS[1:], strict=False):
        if karat <= k1:
            return _mix(c0, c1, (karat - k0) / (k1 - k0))
    return last[1]


@functools.lru_cache(maxsize=32)
def _gold_luts(base: RGB) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Per-channel lookup tables mapping shade 0..255 to a polished-gold colour (cached)."""
    stops: list[tuple[float, RGB]] = [
        (0.0, _scale(base, 0.30)),
        (float(_EDGE_SHADE), _scale(base, 0.56)),
        (150.0, base),
        (212.0, _mix(base, (255, 244, 214), 0.55)),
        (255.0, (255, 251, 240)),
    ]
    r, g, b = (
        tuple(round(_ramp([(pos, float(col[ch])) for pos, col in stops], v)) for v in range(256))
        for ch in range(3)
    )
    return r, g, b


# ------------------------------------------------------------------------- geometry


def _ellipse_pts(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    rot: float = 0.0,
    n: int = 64,
    a0: float = 0.0,
    a1: float | None = None,
) -> list[Point]:
    """Sample an ellipse (optionally rotated by ``rot`` radians) as a closed ring or an arc.

    With ``a1`` left out the result is ``n`` points around the whole ellipse; otherwise it
    is ``n + 1`` points from angle ``a0`` to ``a1`` inclusive.
    """
    cr, sr = math.cos(rot), math.sin(rot)
    if a1 is None:
        angles = [a0 + 2.0 * math.pi * i / n for i in range(n)]
    else:
        angles = [a0 + (a1 - a0) * i / n for i in range(n + 1)]
    pts: list[Point] = []
    for a in angles:
        ex, ey = rx * math.cos(a), ry * math.sin(a)
        pts.append((cx + ex * cr - ey * sr, cy + ex * sr + ey * cr))
    return pts


def _hull(points: Sequence[Point]) -> list[Point]:
    """Return the convex hull of ``points`` (Andrew's monotone chain), counter-clockwise."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return list(pts)

    def cross(o: Point, a: Point, b: Point) -> float:
        """Z component of (a - o) x (b - o)."""
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _inside_ellipse(p: Point, cx: float, cy: float, rx: float, ry: float) -> bool:
    """Whether ``p`` lies inside the axis-aligned ellipse centred at (cx, cy)."""
    return ((p[0] - cx) / rx) ** 2 + ((p[1] - cy) / ry) ** 2 <= 1.0


def _path_stations(path: Sequence[Point], step: float) -> list[tuple[Point, float]]:
    """Walk a dense polyline and return ``(point, tangent angle)`` every ``step`` of length."""
    out: list[tuple[Point, float]] = []
    travelled = 0.0
    target = 0.0
    for (x0, y0), (x1, y1) in zip(path, path[1:], strict=False):
        seg = math.hypot(x1 - x0, y1 - y0)
        if seg == 0.0:
            continue
        angle = math.atan2(y1 - y0, x1 - x0)
        while target <= travelled + seg:
            t = (target - travelled) / seg
            out.append(((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t), angle))
            target += step
        travelled += seg
    return out


# --------------------------------------------------------------------------- scene


@dataclass(frozen=True)
class _Gem:
    """A stone to paint over the metal: ``view`` is "side" or "top"; units are layout units."""

    view: str
    x: float
    y: float
    size: float  # girdle width seen from the side, or radius seen from above


@dataclass
class _Scene:
    """What a piece painter reports back: stones to set and how the piece meets the table."""

    #: (x0, x1, y) of the line where a standing piece touches the table, if it stands.
    contact: tuple[float, float, float] | None = None
    #: Box (x0, y0, x1, y1) of the soft pool of shade under a lying piece; None = its bounds.
    pool: tuple[float, float, float, float] | None = None
    #: Darkness (0..255) of that pool at its core.
    pool_depth: int = 70
    gems: list[_Gem] = field(default_factory=list)


# ---------------------------------------------------------------------- metal sheet


class _Sheet:
    """Supersampled grayscale shade map and coverage (alpha) map of one gold piece.

    Coordinates handed to the drawing helpers are canvas pixels; ``u`` converts the
    normalised 0..1 layout units of the category painters into pixels.
    """

    def __init__(self, px: int) -> None:
        """Create empty maps ``px`` pixels square."""
        self.u = float(px)
        self.shade = Image.new("L", (px, px), _EDGE_SHADE)
        self.alpha = Image.new("L", (px, px), 0)
        self.ds = ImageDraw.Draw(self.shade)
        self.da = ImageDraw.Draw(self.alpha)

    def fill(self, poly: Sequence[Point], shade: int) -> None:
        """Cover ``poly`` with metal of a flat ``shade``."""
        self.da.polygon(list(poly), fill=255)
        self.ds.polygon(list(poly), fill=shade)

    def gradient(
        self, poly: Sequence[Point], stops: Sequence[tuple[float, float]], vertical: bool
    ) -> None:
        """Shade the inside of ``poly`` with a linear ramp across its bounding box.

        ``stops`` map 0..1 (top to bottom if ``vertical``, else left to right) to shades.
        Only the shade map is touched; coverage is the caller's business.
        """
        size = self.shade.width
        x0 = max(0, math.floor(min(p[0] for p in poly)))
        y0 = max(0, math.floor(min(p[1] for p in poly)))
        x1 = min(size, math.ceil(max(p[0] for p in poly)) + 1)
        y1 = min(size, math.ceil(max(p[1] for p in poly)) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        w, h = x1 - x0, y1 - y0
        n = h if vertical else w
        ramp = bytes(round(_ramp(stops, i / (_RAMP_SAMPLES - 1))) for i in range(_RAMP_SAMPLES))
        if vertical:
            strip = Image.frombytes("L", (1, _RAMP_SAMPLES), ramp).resize((1, n), _BILINEAR)
        else:
            strip = Image.frombytes("L", (_RAMP_SAMPLES, 1), ramp).resize((n, 1), _BILINEAR)
        grad = strip.resize((w, h), Image.Resampling.NEAREST)
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in poly], fill=255)
        self.shade.paste(grad, (x0, y0), mask)

    def wire(self, pts: Sequence[Point], width: float, closed: bool = False) -> None:
        """Draw a round polished wire of ``width`` pixels along ``pts``, lit from the top left.

        The wire is a stack of ever thinner, lighter strokes nudged toward the light,
        which reads as a tube with a specular line.
        """
        path = [*pts, pts[0]] if closed else list(pts)
        for i, (frac, off, shade) in enumerate(_WIRE_LAYERS):
            o = width * off
            shifted = [(x - o, y - o) for x, y in path]
            w = width * frac
            _polyline(self.ds, shifted, w, shade)
            if i == 0:
                _polyline(self.da, shifted, w, 255)

    def dome(
        self, outline: Sequence[Point], centre: Point, radius: float, lo: int = 92, steps: int = 14
    ) -> None:
        """Fill ``outline`` as a polished dome: nested, lighter copies drift toward the light.

        The terraces are then blurred inside the outline so the dome reads as smooth metal.
        """
        self.da.polygon(list(outline), fill=255)
        cx, cy = centre
        for i in range(steps):
            t = i / (steps - 1)
            k = 1.0 - 0.9 * t
            shift = radius * 0.32 * t
            shade = round(_ramp(((0.0, lo), (0.2, 150.0), (0.65, 212.0), (1.0, 254.0)), t))
            poly = [(cx + (x - cx) * k - shift, cy + (y - cy) * k - shift) for x, y in outline]
            self.ds.polygon(poly, fill=shade)
        blur = radius * 0.9 / steps
        pad = math.ceil(blur * 3)
        size = self.shade.width
        x0 = max(0, math.floor(min(p[0] for p in outline)) - pad)
        y0 = max(0, math.floor(min(p[1] for p in outline)) - pad)
        x1 = min(size, math.ceil(max(p[0] for p in outline)) + pad)
        y1 = min(size, math.ceil(max(p[1] for p in outline)) + pad)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        soft = self.shade.crop((x0, y0, x1, y1)).filter(ImageFilter.GaussianBlur(blur))
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in outline], fill=255)
        self.shade.paste(soft, (x0, y0), mask)


def _polyline(draw: ImageDraw.ImageDraw, pts: Sequence[Point], width: float, fill: int) -> None:
    """Stroke a finely sampled polyline, with round caps when it is open and thick.

    Joints of thin strokes are left square (much cheaper than ``joint="curve"``): every path
    here is a straight bar or a curve sampled every few degrees, where the notch is below a
    pixel; strokes of ``_ROUND_JOINTS`` pixels or more get a disc at every vertex. A path
    whose last point equals its first is closed and gets no caps.
    """
    w = max(1, round(width))
    draw.line(list(pts), fill=fill, width=w)
    if w < 4 or len(pts) < 2:
        return
    r = width / 2.0
    if w >= _ROUND_JOINTS:
        dots: Sequence[Point] = pts
    elif pts[0] == pts[-1]:
        return
    else:
        dots = (pts[0], pts[-1])
    for x, y in dots:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


# ---------------------------------------------------------------------------- gems


class _Patch:
    """A small supersampled RGBA patch of the photo for painting stones in colour."""

    def __init__(self, photo_size: int, cx: float, cy: float, half: float) -> None:
        """Cover the square of half-side ``half`` (layout units) around (cx, cy)."""
        self.size = photo_size
        self.x0 = math.floor((cx - half) * photo_size)
        self.y0 = math.floor((cy - half) * photo_size)
        self.side = math.ceil(2 * half * photo_size) + 2
        self.img = Image.new("RGBA", (self.side * _SS, self.side * _SS), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.img)

    def p(self, x: float, y: float) -> Point:
        """Convert layout units to patch pixels."""
        return ((x * self.size - self.x0) * _SS, (y * self.size - self.y0) * _SS)

    def px(self, v: float) -> float:
        """Convert a layout-unit length to patch pixels."""
        return v * self.size * _SS

    def apply(self, photo: Image.Image) -> None:
        """Downscale the patch and composite it onto ``photo``."""
        small = self.img.resize((self.side, self.side), _LANCZOS)
        photo.paste(small, (self.x0, self.y0), small)


def _facet(gem: RGB, light: float) -> tuple[int, int, int, int]:
    """Colour of a gem facet: ``light`` < 1 darkens, > 1 blends toward white."""
    c = _scale(gem, light) if light <= 1.0 else _mix(gem, (255, 255, 255), min(1.0, light - 1.0))
    return (c[0], c[1], c[2], 255)


def _sparkle(patch: _Patch, x: float, y: float, r: float) -> None:
    """A tiny four-point glint centred at (x, y) with arm length ``r`` (layout units)."""
    cx, cy = patch.p(x, y)
    a, b = patch.px(r), patch.px(r) * 0.22
    white = (255, 255, 255, 235)
    patch.draw.polygon([(cx - a, cy), (cx, cy - b), (cx + a, cy), (cx, cy + b)], fill=white)
    patch.draw.polygon([(cx, cy - a), (cx + b, cy), (cx, cy + a), (cx - b, cy)], fill=white)


def _gem_side(photo: Image.Image, cx: float, gy: float, gw: float, gem: RGB, gold: RGB) -> None:
    """Paint a round brilliant seen from the side, girdle at height ``gy``, in claws."""
    patch = _Patch(photo.width, cx, gy, gw * 0.75)
    half, tw, ch, pd = gw / 2, gw * 0.29, gw * 0.2, gw * 0.44
    g = [patch.p(cx + half * f, gy) for f in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    t = [patch.p(cx + tw * f, gy - ch) for f in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    tip = patch.p(cx, gy + pd)
    for i, light in enumerate((1.05, 1.55, 1.25, 0.8)):
        patch.draw.polygon([g[i], t[i], t[i + 1], g[i + 1]], fill=_facet(gem, light))
    for i, light in enumerate((0.75, 1.15, 0.6, 0.9)):
        patch.draw.polygon([g[i], g[i + 1], tip], fill=_facet(gem, light))
    edge = _facet(gem, 0.5)
    patch.draw.line([g[0], t[0], t[-1], g[-1], tip, g[0]], fill=edge, width=_SS)
    patch.draw.line([g[0], g[-1]], fill=_facet(gem, 1.3), width=_SS)
    # four claws: two in front, drawn as short polished bars over the girdle
    claw = max(2, round(patch.px(gw * 0.07)))
    dark, light_gold = _scale(gold, 0.6), _mix(gold, (255, 244, 214), 0.5)
    for f in (-0.92, 0.92):
        top = patch.p(cx + half * f * 0.88, gy - ch * 0.55)
        bot = patch.p(cx + half * f * 0.72, gy + pd * 0.55)
        patch.draw.line([top, bot], fill=(*dark, 255), width=claw)
        patch.draw.line(
            [(top[0] - claw * 0.2, top[1]), (bot[0] - claw * 0.2, bot[1])],
            fill=(*light_gold, 255),
            width=max(1, claw // 2),
        )
    _sparkle(patch, cx - tw * 0.4, gy - ch * 0.8, gw * 0.18)
    patch.apply(photo)


def _gem_top(photo: Image.Image, cx: float, cy: float, r: float, gem: RGB, gold: RGB) -> None:
    """Paint a round brilliant seen from above, radius ``r``, held by four gold beads."""
    patch = _Patch(photo.width, cx, cy, r * 1.35)
    pc = patch.p(cx, cy)
    rp = patch.px(r)
    girdle = _ellipse_pts(pc[0], pc[1], rp, rp, n=16, a0=-math.pi / 2)
    table = _ellipse_pts(pc[0], pc[1], rp * 0.55, rp * 0.55, n=8, a0=-math.pi / 2)
    light_dir = math.radians(225.0)  # top left, in image coordinates
    for i in range(8):
        mid = -math.pi / 2 + (i + 0.5) * 2 * math.pi / 8
        lit = 0.95 + 0.45 * math.cos(mid - light_dir)
        tri_a = [table[i], girdle[2 * i], girdle[(2 * i + 1) % 16]]
        tri_b = [table[i], girdle[(2 * i + 1) % 16], girdle[(2 * i + 2) % 16], table[(i + 1) % 8]]
        patch.draw.polygon(tri_a, fill=_facet(gem, lit + 0.25))
        patch.draw.polygon(tri_b, fill=_facet(gem, lit - 0.25))
    patch.draw.polygon(table, fill=_facet(gem, 1.2))
    patch.draw.polygon(
        [table[5], table[6], table[7], pc], fill=_facet(gem, 1.45)
    )  # a bright reflection on the table
    patch.draw.line([*girdle, girdle[0]], fill=_facet(gem, 0.55), width=_SS)
    br = rp * 0.2
    dark, light_gold = _scale(gold, 0.62), _mix(gold, (255, 244, 214), 0.6)
    for k in range(4):
        a = math.radians(45 + 90 * k)
        bx, by = pc[0] + rp * 0.96 * math.cos(a), pc[1] + rp * 0.96 * math.sin(a)
        patch.draw.ellipse((bx - br, by - br, bx + br, by + br), fill=(*dark, 255))
        hr = br * 0.55
        hx, hy = bx - br * 0.25, by - br * 0.25
        patch.draw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=(*light_gold, 255))
    _sparkle(patch, cx - r * 0.3, cy - r * 0.3, r * 0.45)
    patch.apply(photo)


# ------------------------------------------------------------------ piece painters


def _band(
    sheet: _Sheet,
    centre: Point,
    rx: float,
    ry: float,
    thickness: float,
    depth: Point,
    vertical: bool,
) -> None:
    """Paint a plain band: an elliptical annulus extruded by ``depth`` (all in pixels).

    ``thickness`` is the wall as a fraction of the outer radius. The near face is drawn
    at ``centre``; the outer wall, the inner wall seen through the bore and the see-through
    part of the bore follow from the two offset ellipses. ``vertical`` picks the direction
    of the wall's light ramp (top-to-bottom for a standing band, across for a lying one).
    """
    cx, cy = centre
    dx, dy = depth
    k = 1.0 - thickness
    outer = _ellipse_pts(cx, cy, rx, ry, n=120)
    inner = _ellipse_pts(cx, cy, rx * k, ry * k, n=120)
    far_outer = [(x + dx, y + dy) for x, y in outer]
    far_inner = [(x + dx, y + dy) for x, y in inner]
    body = _hull(outer + far_outer)
    sheet.da.polygon(body, fill=255)
    if vertical:
        wall = (
            (0.0, 150.0),
            (0.09, 232.0),
            (0.16, 253.0),
            (0.27, 205.0),
            (0.52, 134.0),
            (0.78, 90.0),
            (0.92, 104.0),
            (1.0, 128.0),
        )
        bore = ((0.0, 78.0), (0.45, 104.0), (0.8, 168.0), (1.0, 150.0))
        face = ((0.0, 238.0), (0.3, 216.0), (0.75, 178.0), (1.0, 160.0))
    else:
        wall = (
            (0.0, 112.0),
            (0.12, 192.0),
            (0.24, 246.0),
            (0.31, 253.0),
            (0.42, 204.0),
            (0.66, 138.0),
            (0.86, 94.0),
            (1.0, 122.0),
        )
        bore = ((0.0, 92.0), (0.4, 116.0), (0.78, 188.0), (1.0, 150.0))
        face = ((0.0, 196.0), (0.3, 240.0), (0.6, 214.0), (1.0, 172.0))
    sheet.gradient(body, wall, vertical)
    # the near face, with a polished glint along its upper left
    sheet.gradient(outer, face, vertical)
    mid = (1.0 + k) / 2.0
    ring_w = min(rx, ry) * thickness
    hi = _ellipse_pts(cx, cy, rx * mid, ry * mid, n=24, a0=math.radians(196), a1=math.radians(252))
    _polyline(sheet.ds, hi, ring_w * 0.3, 252)
    # the bore: inner wall where the far opening does not line up with the near one
    sheet.gradient(inner, bore, vertical)
    rxi, ryi = rx * k, ry * k
    through = [p for p in inner if _inside_ellipse(p, cx + dx, cy + dy, rxi, ryi)]
    through += [p for p in far_inner if _inside_ellipse(p, cx, cy, rxi, ryi)]
    hole = _hull(through)
    if len(hole) >= 3:
        sheet.da.polygon(hole, fill=0)


def _cable_chain(
    sheet: _Sheet, path: Sequence[Point], link: float, wire: float
) -> tuple[Point, Point, float, float]:
    """Lay a cable chain along a dense pixel ``path``: flat ovals alternating with edge-on links.

    Returns the outer tips of the first and last links and the chain's direction at each,
    for attaching rings and clasps.
    """
    stations = _path_stations(path, link - 1.7 * wire)
    flats = stations[0::2]
    edges = stations[1::2]
    n = 20 if link < 60 else 30  # points per oval: enough to keep the square joints invisible
    for (x, y), a in flats:
        oval = _ellipse_pts(x, y, link / 2 - wire / 2, link * 0.3 - wire / 2, rot=a, n=n)
        sheet.wire(oval, wire, closed=True)
    for (x, y), a in edges:
        reach = link / 2 - wire * 0.7
        ca, sa = math.cos(a), math.sin(a)
        sheet.wire([(x - ca * reach, y - sa * reach), (x + ca * reach, y + sa * reach)], wire * 1.3)
    (fx, fy), fa = stations[0]
    (lx, ly), la = stations[-1]
    half = link / 2 - wire / 2
    head = (fx - math.cos(fa) * half, fy - math.sin(fa) * half)
    tail = (lx + math.cos(la) * half, ly + math.sin(la) * half)
    return head, tail, fa, la


def _clasp(sheet: _Sheet, centre: Point, angle: float, length: float, girth: float) -> None:
    """A polished box clasp: a domed capsule along ``angle`` with a fine seam across it."""
    cx, cy = centre
    ca, sa = math.cos(angle), math.sin(angle)
    r, half = girth / 2, max(0.0, length / 2 - girth / 2)
    outline: list[Point] = []
    for end, start in ((half, -math.pi / 2), (-half, math.pi / 2)):
        for i in range(13):
            t = start + math.pi * i / 12
            lx, ly = end + r * math.cos(t), r * math.sin(t)
            outline.append((cx + lx * ca - ly * sa, cy + lx * sa + ly * ca))
    sheet.dome(outline, centre, girth * 0.6)
    seam = [(cx - r * 0.8 * -sa, cy - r * 0.8 * ca), (cx + r * 0.8 * -sa, cy + r * 0.8 * ca)]
    _polyline(sheet.ds, seam, girth * 0.06, 90)


def _paint_ring(sheet: _Sheet, rng: random.Random) -> _Scene:
    """A band standing on its edge, seen three-quarter on; maybe a claw-set solitaire on top."""
    u = sheet.u
    radius = rng.uniform(0.225, 0.25)
    view = math.radians(rng.uniform(38.0, 52.0))
    width = rng.uniform(0.075, 0.11)
    wall = rng.uniform(0.028, 0.042)
    cx, cy = 0.5 - width * math.sin(view) / 2, 0.56
    rx, ry = radius * math.cos(view), radius
    dx = width * math.sin(view)
    _band(sheet, (cx * u, cy * u), rx * u, ry * u, wall / radius, (dx * u, -0.004 * u), True)
    scene = _Scene(contact=(cx - rx, cx + rx + dx, cy + ry))
    if rng.random() < 0.55:
        sx, top = cx + dx / 2, cy - ry - 0.002
        gw = rng.uniform(0.1, 0.125)
        gy = top - gw * 0.42
        cup = [
            (sx - gw * 0.24, top + 0.012),
            (sx + gw * 0.24, top + 0.012),
            (sx + gw * 0.36, gy + gw * 0.3),
            (sx - gw * 0.36, gy + gw * 0.3),
        ]
        sheet.dome([(x * u, y * u) for x, y in cup], (sx * u, (top - 0.01) * u), gw * 0.3 * u)
        scene.gems.append(_Gem("side", sx, gy, gw))
    return scene


def _paint_chain(sheet: _Sheet, rng: random.Random) -> _Scene:
    """A cable chain laid in a loose wave across the frame, with a ring and a clasp at the ends."""
    u = sheet.u
    amp = rng.uniform(0.08, 0.15)
    waves = rng.uniform(0.7, 1.25)
    phase = rng.uniform(0.0, 2 * math.pi)
    tilt = rng.uniform(-0.08, 0.08)
    path: list[Point] = []
    for i in range(241):
        t = i / 240
        x = 0.12 + 0.76 * t
        y = 0.5 + tilt * (t - 0.5) + amp * math.sin(2 * math.pi * waves * t + phase)
        path.append((x * u, y * u))
    link = rng.uniform(0.048, 0.056) * u
    wire = link * 0.18
    (hx, hy), (tx, ty), ha, ta = _cable_chain(sheet, path, link, wire)
    ring_r = link * 0.42
    reach = ring_r - wire * 0.6
    ring = _ellipse_pts(hx - math.cos(ha) * reach, hy - math.sin(ha) * reach, ring_r, ring_r, n=30)
    sheet.wire(ring, wire * 1.1, closed=True)
    length = link * 1.5
    reach = length / 2 - wire
    _clasp(sheet, (tx + math.cos(ta) * reach, ty + math.sin(ta) * reach), ta, length, link * 0.5)
    return _Scene(pool_depth=34)


def _paint_earrings(sheet: _Sheet, rng: random.Random) -> _Scene:
    """A pair of domed studs (plain, flower or stone-set) or a pair of small hoops."""
    u = sheet.u
    scene = _Scene()
    lift = rng.uniform(-0.03, 0.03)
    if rng.random() < 0.5:
        style = rng.choice(("plain", "flower", "stone"))
        r = rng.uniform(0.085, 0.1)
        for cx, cy in ((0.35, 0.5 + lift), (0.65, 0.5 - lift)):
            if style == "flower":
                for k in range(6):
                    a = k * math.pi / 3 + 0.3
                    px, py = cx + r * 0.62 * math.cos(a), cy + r * 0.62 * math.sin(a)
                    petal = _ellipse_pts(px * u, py * u, r * 0.5 * u, r * 0.5 * u, n=32)
                    sheet.dome(petal, (px * u, py * u), r * 0.5 * u)
                bead = _ellipse_pts(cx * u, cy * u, r * 0.34 * u, r * 0.34 * u, n=28)
                sheet.dome(bead, (cx * u, cy * u), r * 0.34 * u, lo=110)
            else:
                disc = _ellipse_pts(cx * u, cy * u, r * u, r * u, n=64)
                sheet.dome(disc, (cx * u, cy * u), r * u)
                if style == "stone":
                    scene.gems.append(_Gem("top", cx, cy, r * 0.68))
    else:
        r = rng.uniform(0.14, 0.165)
        wire = rng.uniform(0.03, 0.038) * u
        squash = rng.uniform(0.86, 0.96)
        for cx, cy, rot in ((0.3, 0.5 + lift, -0.12), (0.7, 0.5 - lift, 0.12)):
            hoop = _ellipse_pts(
                cx * u,
                cy * u,
                r * squash * u,
                r * u,
                rot=rot,
                n=72,
                a0=-math.pi / 2 + 0.28,
                a1=1.5 * math.pi - 0.12,
            )
            sheet.wire(hoop, wire)
            # the hinged post closing the hoop at the top
            (px, py), (qx, qy) = hoop[0], hoop[-1]
            sheet.wire([(qx, qy), (px, py)], wire * 0.55)
    return scene


def _paint_bracelet(sheet: _Sheet, rng: random.Random) -> _Scene:
    """A polished bangle lying flat, or a cable-link bracelet laid in an oval with a clasp."""
    u = sheet.u
    if rng.random() < 0.5:
        rx = rng.uniform(0.32, 0.36)
        ry = rx * rng.uniform(0.4, 0.5)
        wall = rng.uniform(0.012, 0.02)
        height = rng.uniform(0.04, 0.065)
        cy = 0.5 - height / 2
        _band(sheet, (0.5 * u, cy * u), rx * u, ry * u, wall / rx, (0.0, height * u), False)
        return _Scene()
    rx = rng.uniform(0.3, 0.34)
    ry = rx * rng.uniform(0.55, 0.68)
    start = rng.uniform(0.0, 2 * math.pi)
    n = 360
    path = [
        (
            (0.5 + rx * math.cos(start + 2 * math.pi * i / n * 0.96)) * u,
            (0.5 + ry * math.sin(start + 2 * math.pi * i / n * 0.96)) * u,
        )
        for i in range(n + 1)
    ]
    link = rng.uniform(0.06, 0.07) * u
    wire = link * 0.19
    (x0, y0), (x1, y1), _, _ = _cable_chain(sheet, path, link, wire)
    gap = math.hypot(x0 - x1, y0 - y1)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    a = math.atan2(y0 - y1, x0 - x1)
    _clasp(sheet, (mx, my), a, max(link * 1.3, gap + wire * 2), link * 0.56)
    return _Scene(pool_depth=48)


def _paint_pendant(sheet: _Sheet, rng: random.Random) -> _Scene:
    """A fine chain falling in a U from the top edge, with a drop or a coin disc on a bail."""
    u = sheet.u
    spread = rng.uniform(0.3, 0.36)
    bottom = rng.uniform(0.4, 0.46)
    path: list[Point] = []
    for i in range(241):
        t = -1.0 + 2.0 * i / 240
        x = 0.5 + spread * math.sin(t * math.pi / 2)
        y = bottom - (bottom + 0.06) * abs(t) ** 1.7
        path.append((x * u, y * u))
    link = rng.uniform(0.028, 0.032) * u
    _cable_chain(sheet, path, link, link * 0.18)
    bail_y = bottom + 0.03
    bail = _ellipse_pts(0.5 * u, bail_y * u, 0.016 * u, 0.028 * u, n=28)
    sheet.wire(bail, 0.011 * u, closed=True)
    top = bail_y + 0.022
    scene = _Scene()
    if rng.random() < 0.5:
        h = rng.uniform(0.24, 0.29)
        w = h * rng.uniform(0.5, 0.6)
        drop: list[Point] = []
        for i in range(72):
            t = 2 * math.pi * i / 72
            drop.append(
                (
                    (0.5 + w * math.sin(t) * math.sin(t / 2)) * u,
                    (top + h * (1 - math.cos(t)) / 2) * u,
                )
            )
        sheet.dome(drop, (0.5 * u, (top + h * 0.62) * u), w * 0.8 * u)
        scene.pool = (0.5 - w * 1.1, top, 0.5 + w * 1.1, top + h)
    else:
        r = rng.uniform(0.12, 0.15)
        cy = top + r
        scene.pool = (0.5 - r * 1.1, cy - r, 0.5 + r * 1.1, cy + r)
        disc = _ellipse_pts(0.5 * u, cy * u, r * u, r * u, n=96)
        sheet.fill(disc, 120)
        field = _ellipse_pts(0.5 * u, cy * u, r * 0.86 * u, r * 0.86 * u, n=96)
        sheet.gradient(field, ((0.0, 214.0), (0.35, 180.0), (0.7, 140.0), (1.0, 160.0)), True)
        rim = _ellipse_pts(0.5 * u, cy * u, r * 0.91 * u, r * 0.91 * u, n=96)
        sheet.wire(rim, r * 0.18 * u, closed=True)
        if rng.random() < 0.5:
            scene.gems.append(_Gem("top", 0.5, cy, r * 0.34))
        else:
            for k in range(12):  # engraved sun rays
                a = k * math.pi / 6
                ca, sa = math.cos(a), math.sin(a)
                ray = [
                    ((0.5 + ca * r * 0.22) * u, (cy + sa * r * 0.22) * u),
                    ((0.5 + ca * r * 0.66) * u, (cy + sa * r * 0.66) * u),
                ]
                _polyline(sheet.ds, ray, 0.006 * u, 110)
                _polyline(
                    sheet.ds, [(x + 0.002 * u, y + 0.002 * u) for x, y in ray], 0.003 * u, 215
                )
            boss = _ellipse_pts(0.5 * u, cy * u, r * 0.2 * u, r * 0.2 * u, n=40)
            sheet.dome(boss, (0.5 * u, cy * u), r * 0.2 * u, lo=120)
    return scene


_PAINTERS: dict[str, Callable[[_Sheet, random.Random], _Scene]] = {
    "ring": _paint_ring,
    "chain": _paint_chain,
    "earrings": _paint_earrings,
    "bracelet": _paint_bracelet,
    "pendant": _paint_pendant,
}


# ------------------------------------------------------------------ studio and shadow


def _backdrop(size: int, rng: random.Random) -> tuple[Image.Image, RGB]:
    """A muted studio sweep: a vertical or radial gradient around a colour picked by ``rng``.

    Returns the image and its base colour (which tints the shadow).
    """
    pick = rng.choice(_BACKDROPS)
    shift = rng.randint(-8, 8)
    base: RGB = (
        max(0, min(255, pick[0] + shift + rng.randint(-3, 3))),
        max(0, min(255, pick[1] + shift + rng.randint(-3, 3))),
        max(0, min(255, pick[2] + shift + rng.randint(-3, 3))),
    )
    light, dark = _mix(base, (255, 255, 255), 0.16), _scale(base, 0.82)
    luts = [
        [round(lo + (hi - lo) * v / 255) for v in range(256)]
        for lo, hi in zip(light, dark, strict=True)
    ]
    if rng.random() < 0.5:
        column = bytearray()
        for i in range(size):
            v = round(255 * (i / (size - 1)) ** 1.3)
            column += bytes((luts[0][v], luts[1][v], luts[2][v]))
        strip = Image.frombytes("RGB", (1, size), bytes(column))
        return strip.resize((size, size), Image.Resampling.NEAREST), base
    # radial_gradient is 0 at the centre of a 256 square; crop so the glow sits high
    grad = Image.radial_gradient("L").crop((20, 34, 236, 250)).resize((size, size), _BILINEAR)
    return Image.merge("RGB", [grad.point(lut) for lut in luts]), base


def _cast_shadow(photo: Image.Image, tint: RGB, coverage: Image.Image, scene: _Scene) -> None:
    """Shade ``photo`` toward ``tint`` under the piece: a soft elliptical pool and a drop shadow.

    ``coverage`` is the supersampled alpha map; the shadow is worked out at a quarter of
    the photo's size and scaled up, which keeps the blur cheap and very soft.
    """
    size = photo.width
    box = coverage.getbbox()
    if box is None:
        return
    small = coverage.reduce(4 * _SS)
    q = small.width
    if scene.pool is None:
        x0, y0, x1, y1 = (v / coverage.width * q for v in box)
    else:
        x0, y0, x1, y1 = (v * q for v in scene.pool)
    pool = Image.new("L", (q, q), 0)
    pd = ImageDraw.Draw(pool)
    if scene.contact is not None:
        cx0, cx1, cy = (v * q for v in scene.contact)
        pad = (cx1 - cx0) * 0.12
        pd.ellipse((cx0 - pad, cy - q * 0.035, cx1 + pad, cy + q * 0.03), fill=190)
        pool = pool.filter(ImageFilter.GaussianBlur(q * 0.02))
    else:
        w, h = x1 - x0, y1 - y0
        pd.ellipse(
            (x0 + w * 0.04, y0 + h * 0.2, x1 - w * 0.04, y1 + h * 0.06), fill=scene.pool_depth
        )
        pool = pool.filter(ImageFilter.GaussianBlur(q * 0.05))
        drop = Image.new("L", (q, q), 0)
        drop.paste(small, (max(1, round(q * 0.008)), max(1, round(q * 0.014))))
        drop = drop.filter(ImageFilter.GaussianBlur(q * 0.006)).point(lambda v: v * 0.75)
        pool = ImageChops.lighter(pool, drop)
    mask = pool.resize((size, size), _BILINEAR)
    area = mask.getbbox()
    if area is not None:
        shade = Image.new("RGB", (area[2] - area[0], area[3] - area[1]), _scale(tint, 0.5))
        photo.paste(shade, area[:2], mask.crop(area))


def _compose_metal(photo: Image.Image, sheet: _Sheet, gold: RGB) -> None:
    """Downscale the piece's maps to photo scale, tone them as gold and lay them on ``photo``."""
    bounds = sheet.alpha.getbbox()
    if bounds is None:
        return
    size = photo.width
    x0, y0 = bounds[0] // _SS, bounds[1] // _SS
    x1, y1 = min(size, -(-bounds[2] // _SS)), min(size, -(-bounds[3] // _SS))
    box = (x0 * _SS, y0 * _SS, x1 * _SS, y1 * _SS)
    shade = sheet.shade.resize((x1 - x0, y1 - y0), _LANCZOS, box=box)
    alpha = sheet.alpha.resize((x1 - x0, y1 - y0), _LANCZOS, box=box)
    lr, lg, lb = _gold_luts(gold)
    metal = Image.merge("RGB", (shade.point(lr), shade.point(lg), shade.point(lb)))
    photo.paste(metal, (x0, y0), alpha)


# ---------------------------------------------------------------------------- public


def render_piece_photo(category: str, karat: int, seed: int, size: int = 720) -> Image.Image:
    """Render a square RGB studio photo of a gold piece of ``category`` in ``karat`` gold.

    ``category`` is one of :data:`CATEGORIES`; ``karat`` (1..24) sets the gold's hue;
    ``seed`` picks the backdrop and the piece's proportions and details, so the same
    arguments always give identical pixels. Raises :class:`ValueError` for an unknown
    category, a karat outside 1..24 or a ``size`` below 32 pixels.
    """
    painter = _PAINTERS.get(category)
    if painter is None:
        raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
    if size < _MIN_SIZE:
        raise ValueError(f"size must be at least {_MIN_SIZE} pixels, got {size}")
    gold = gold_colour(karat)
    rng = random.Random(seed)  # nosec B311  # seeded on purpose: the same demo photos every run
    photo, tint = _backdrop(size, rng)
    sheet = _Sheet(size * _SS)
    scene = painter(sheet, rng)
    _cast_shadow(photo, tint, sheet.alpha, scene)
    _compose_metal(photo, sheet, gold)
    colour = rng.choice(_GEMS)  # one stone colour per photo, so pairs match
    for gem in scene.gems:
        if gem.view == "side":
            _gem_side(photo, gem.x, gem.y, gem.size, colour, gold)
        else:
            _gem_top(photo, gem.x, gem.y, gem.size, colour, gold)
    return photo
