"""Inline SVG charts drawn in Python: no chart library, no script, prints as vectors.

Each function is pure: numbers in, an SVG text out (a :class:`markupsafe.Markup`, so a
template can place it as it is). Every text taken from the data is escaped here, and
every chart carries a ``<title>`` and an ``aria-label`` that say what it shows in words.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from markupsafe import Markup, escape

from healthscore.model.scale import HealthScale

#: Band colours (text labels always accompany them).
BAND_FILL = {"red": "#d9534f", "yellow": "#e9a23b", "green": "#3c9d6d"}
BAND_SOFT = {"red": "#fdecea", "yellow": "#fdf4e3", "green": "#e8f5ee"}
INK = "#1f2a37"
MUTED = "#6b7280"
GRID = "#e5e7eb"
ACCENT = "#2f5d8a"
NEGATIVE = "#c2410c"
POSITIVE = "#2f7d5b"


#: Width of one character of 12px sans-serif text, generously (wide letters, digits).
_TEXT_PX_PER_CHAR = 7.2


def _svg(width: int, height: int, label: str, body: list[str], *, css: str = "chart") -> Markup:
    safe = escape(label)
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{safe}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{safe}</title>{"".join(body)}</svg>'
    )


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12,
          fill: str = MUTED, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}" font-weight="{weight}">{escape(content)}</text>')


def score_histogram(
    scores: Sequence[float],
    bands: Sequence[str],
    *,
    scale: HealthScale,
    bin_width: int = 5,
) -> Markup:
    """Accounts per health-score bin (1-100), each bar coloured by its band.

    A bar's band is the band of the bin's lower edge (:meth:`HealthScale.band`), so the
    colours follow the band lines drawn at ``red_below`` and ``green_from``.
    """
    red_below, green_from = scale.red_below, scale.green_from
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[~np.isnan(scores)]
    edges = np.arange(0, 100 + bin_width, bin_width)
    counts, _ = np.histogram(np.clip(scores, 0, 99.999), bins=edges)
    width, height, left, bottom, top = 520, 220, 40, 30, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(int(counts.max()) if counts.size else 0, 1)
    body = []
    for frac in (0.5, 1.0):
        y = top + plot_h * (1 - frac)
        body.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, f"{peak * frac:,.0f}", anchor="end", size=11))
    bar_w = plot_w / len(counts)
    for i, count in enumerate(counts):
        lo = edges[i]
        band = scale.band(lo)
        h = plot_h * count / peak
        x = left + i * bar_w
        body.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{h:.1f}" fill="{BAND_FILL[band]}"><title>{escape(f"Scores {lo}-{lo + bin_width - 1}: {count:,} accounts")}</title></rect>'
        )
    for value in (red_below, green_from):
        x = left + plot_w * value / 100
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + plot_h}" '
                    f'stroke="{INK}" stroke-dasharray="3 3"/>')
    for value in range(0, 101, 10):
        body.append(_text(left + plot_w * value / 100, height - 10, str(value), anchor="middle", size=11))
    body.append(f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    label = (f"Health score distribution of {len(scores):,} accounts: "
             f"{int((scores < red_below).sum()):,} below {red_below:g} (red), "
             f"{int((scores >= green_from).sum()):,} from {green_from:g} up (green)")
    return _svg(width, height, label, body)


def trend_line(
    dates: Sequence[str],
    scores: Sequence[float],
    *,
    scale: HealthScale,
) -> Markup:
    """An account's health score over its scoring dates, on the band zones of ``scale``."""
    red_below, green_from = scale.red_below, scale.green_from
    scores = [float(s) for s in scores]
    width, height, left, right, top, bottom = 1080, 230, 40, 40, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), 100.0) / 100)

    body = []
    for band, lo, hi in (("red", 0, red_below), ("yellow", red_below, green_from), ("green", green_from, 100)):
        if hi > lo:
            body.append(f'<rect x="{left}" y="{y_of(hi):.1f}" width="{plot_w}" '
                        f'height="{y_of(lo) - y_of(hi):.1f}" fill="{BAND_SOFT[band]}"/>')
    for v in (0, 25, 50, 75, 100):
        body.append(_text(left - 6, y_of(v) + 4, str(v), anchor="end", size=12))
    n = len(scores)
    xs = [left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    if n > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y_of(s):.1f}" for i, (x, s) in enumerate(zip(xs, scores)))
        body.append(f'<path d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    step = max(1, n // 6)
    for i, (x, s, d) in enumerate(zip(xs, scores, dates)):
        body.append(f'<circle cx="{x:.1f}" cy="{y_of(s):.1f}" r="4" fill="{ACCENT}">'
                    f'<title>{escape(f"{d}: {s:.0f}")}</title></circle>')
        if i % step == 0 or i == n - 1:
            anchor = "middle" if 0 < i < n - 1 or n == 1 else ("start" if i == 0 else "end")
            body.append(_text(x, height - 12, str(d), anchor=anchor, size=12))
    if n:
        body.append(_text(xs[-1] - 6, y_of(scores[-1]) - 9, f"{scores[-1]:.0f}", anchor="end",
                          size=13, fill=INK, weight="bold"))
    summary = ", ".join(f"{d}: {s:.0f}" for d, s in zip(dates, scores))
    return _svg(width, height, f"Health score over time: {summary}", body)


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    value_text: Sequence[str] | None = None,
    diverging: bool = False,
    fills: Sequence[str] | None = None,
    title: str = "",
    label_width: int = 230,
    width: int = 520,
    whole_labels: bool = False,
) -> Markup:
    """Horizontal bars, one per label; ``diverging`` draws negatives left of zero.

    Labels longer than 34 characters are cut with an ellipsis (the bar's tooltip has
    them whole), unless ``whole_labels``: then the label column is as wide as the
    longest label and the chart wider by as much, so no label is cut.
    """
    values = [0.0 if v is None or not np.isfinite(v) else float(v) for v in values]
    texts = list(value_text) if value_text is not None else [f"{v:,.1f}" for v in values]
    row_h, value_w = 26, 80
    if whole_labels:
        longest = max((len(str(label)) for label in labels), default=0)
        needed = int(np.ceil(_TEXT_PX_PER_CHAR * longest)) + 16  # 12px text, 8px gap each side
        width += max(needed - label_width, 0)
        label_width = max(label_width, needed)
    height = row_h * len(values) + 8
    plot_w = width - label_width - value_w
    span = max((abs(v) for v in values), default=0.0) or 1.0
    zero = label_width + (plot_w / 2 if diverging else 0)
    scale = (plot_w / 2 if diverging else plot_w) / span
    body = []
    for i, (label, v, t) in enumerate(zip(labels, values, texts)):
        y = 4 + i * row_h
        fill = fills[i] if fills is not None else (NEGATIVE if v < 0 else POSITIVE if diverging else ACCENT)
        w = abs(v) * scale
        x = zero - w if v < 0 else zero
        short = label if whole_labels or len(label) <= 34 else label[:33] + "\u2026"
        body.append(_text(label_width - 8, y + 17, short, anchor="end", size=12, fill=INK))
        body.append(f'<rect x="{x:.1f}" y="{y + 5}" width="{max(w, 1):.1f}" height="{row_h - 10}" '
                    f'rx="2" fill="{fill}"><title>{escape(f"{label}: {t}")}</title></rect>')
        body.append(_text(width - 4, y + 17, t, anchor="end", size=12, fill=INK))
    if diverging:
        body.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="{MUTED}"/>')
    summary = "; ".join(f"{label}: {t}" for label, t in zip(labels, texts))
    return _svg(width, height, f"{title}: {summary}" if title else summary, body)


def reliability_curve(
    predicted: Sequence[float],
    observed: Sequence[float],
    *,
    counts: Sequence[float] | None = None,
) -> Markup:
    """Observed churn rate against predicted churn probability per bin; the diagonal
    is a perfectly calibrated model."""
    pred = np.asarray(predicted, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    keep = ~(np.isnan(pred) | np.isnan(obs))
    pred, obs = pred[keep], obs[keep]
    size, pad = 300, 42
    inner = size - pad - 12
    top = max(float(np.max(pred, initial=0)), float(np.max(obs, initial=0)), 0.1)
    top = min(1.0, np.ceil(top * 10) / 10)

    def xy(p: float, o: float) -> tuple[float, float]:
        return pad + inner * p / top, 12 + inner * (1 - o / top)

    body = [f'<rect x="{pad}" y="12" width="{inner}" height="{inner}" fill="none" stroke="{GRID}"/>']
    x0, y0 = xy(0, 0)
    x1, y1 = xy(top, top)
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="{MUTED}" stroke-dasharray="4 4"/>')
    for t in np.linspace(0, top, 5):
        x, _ = xy(t, 0)
        _, y = xy(0, t)
        body.append(_text(x, size - 16, f"{100 * t:.0f}%", anchor="middle", size=10))
        body.append(_text(pad - 4, y + 4, f"{100 * t:.0f}%", anchor="end", size=10))
    body.append(_text(pad + inner / 2, size - 2, "predicted churn", anchor="middle", size=11))
    body.append(f'<text x="11" y="{12 + inner / 2:.1f}" text-anchor="middle" font-size="11" '
                f'fill="{MUTED}" transform="rotate(-90 11 {12 + inner / 2:.1f})">observed churn</text>')
    order = np.argsort(pred)
    pts = [xy(p, o) for p, o in zip(pred[order], obs[order])]
    if len(pts) > 1:
        body.append('<path d="' + " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}"
                                          for i, (x, y) in enumerate(pts))
                    + f'" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    n = None
    if counts is not None:
        n = np.asarray(counts, dtype=np.float64)[keep][order]
    biggest = float(np.nanmax(n)) if n is not None and n.size else 0.0
    for i, ((x, y), p, o) in enumerate(zip(pts, pred[order], obs[order])):
        # a dot's area follows its number of renewals: small bins are noisy
        r = 3.5 if not biggest else 2.5 + 5.5 * np.sqrt(n[i] / biggest)
        tip = f"predicted {100 * p:.0f}%, observed {100 * o:.0f}%"
        if n is not None:
            tip += f", {n[i]:,.0f} renewals"
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{ACCENT}" fill-opacity="0.75">'
                    f'<title>{escape(tip)}</title></circle>')
    label = "Reliability: observed against predicted churn per bin; " + "; ".join(
        f"predicted {100 * p:.0f}% observed {100 * o:.0f}%" for p, o in zip(pred[order], obs[order]))
    return _svg(size, size, label, body, css="chart chart-square")


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (1 for nothing), so an
    axis ends on a round number."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-12)))


def run_trend(
    dates: Sequence[str],
    bands: dict[str, Sequence[float]],
    arr_at_risk: Sequence[float],
    *,
    currency: str = "$",
) -> Markup:
    """Bands and ARR at risk across scoring runs, one column per run.

    Top: the accounts of each band stacked (red at the bottom); below: the ARR at
    risk as a line with one point per run (``class="run-point"``, ``data-as-of``).
    A figure a run did not record is left out (no bar, no point).
    """
    from healthscore.features.phrases import money

    n = len(dates)
    width, left, right = 520, 52, 16
    bar_top, bar_h, gap, line_h, bottom = 18, 110, 34, 70, 26
    line_top = bar_top + bar_h + gap
    height = line_top + line_h + bottom
    plot_w = width - left - right
    step = plot_w / max(n, 1)
    xs = [left + step * (i + 0.5) for i in range(n)]
    stacks = [[0.0 if not np.isfinite(v) else float(v) for v in bands.get(b, [np.nan] * n)]
              for b in ("red", "yellow", "green")]
    totals = [sum(col) for col in zip(*stacks)] if n else []
    peak = _nice_ceiling(max(totals, default=0.0))
    body = [_text(left, bar_top - 6, "Accounts per band", size=11, fill=INK)]
    for frac in (0.5, 1.0):
        y = bar_top + bar_h * (1 - frac)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, f"{peak * frac:,.0f}", anchor="end", size=11))
    bar_w = max(min(step * 0.7, 40.0), 2.0)
    for i, x in enumerate(xs):
        y = bar_top + bar_h
        parts = []
        for band, values in zip(("red", "yellow", "green"), stacks):
            h = bar_h * values[i] / peak
            y -= h
            parts.append(f'<rect x="{x - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{BAND_FILL[band]}"/>')
        tip = f"{dates[i]}: " + ", ".join(f"{b} {int(v[i]):,}" for b, v in zip(("red", "yellow", "green"), stacks))
        body.append(f'<g class="run-bar" data-as-of="{escape(dates[i])}"><title>{escape(tip)}</title>{"".join(parts)}</g>')
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{bar_top + bar_h}" y2="{bar_top + bar_h}" stroke="{MUTED}"/>')
    values = [float(v) if v is not None and np.isfinite(v) else np.nan for v in arr_at_risk]
    known = [v for v in values if np.isfinite(v)]
    # from zero: a small change looks small (a zoomed axis would make it look large)
    lo, hi = 0.0, _nice_ceiling(max(known, default=0.0))

    def y_of(v: float) -> float:
        return line_top + line_h * (1 - (v - lo) / (hi - lo))

    body.append(_text(left, line_top - 8, "ARR at risk", size=11, fill=INK))
    for v in (lo, hi / 2, hi):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y_of(v):.1f}" y2="{y_of(v):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y_of(v) + 4, money(v, symbol=currency, compact=True), anchor="end", size=11))
    drawn = [(x, y_of(v)) for x, v in zip(xs, values) if np.isfinite(v)]
    if len(drawn) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(drawn))
        body.append(f'<path d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for x, v, d in zip(xs, values, dates):
        if np.isfinite(v):
            body.append(f'<circle class="run-point" data-as-of="{escape(d)}" cx="{x:.1f}" cy="{y_of(v):.1f}" '
                        f'r="3.5" fill="{ACCENT}"><title>{escape(f"{d}: {money(v, symbol=currency)} ARR at risk")}'
                        f'</title></circle>')
    every = max(1, int(np.ceil(n / 6)))
    for i, (x, d) in enumerate(zip(xs, dates)):
        if i % every == 0 or i == n - 1:
            body.append(_text(x, height - 8, str(d), anchor="middle", size=11))
    summary = "; ".join(
        f"{d}: red {int(r):,}, yellow {int(yl):,}, green {int(g):,}, ARR at risk "
        f"{money(v, symbol=currency, compact=True) if np.isfinite(v) else 'not recorded'}"
        for d, r, yl, g, v in zip(dates, *stacks, values))
    return _svg(width, height, f"Bands and ARR at risk per scoring run: {summary}", body, css="chart chart-trend")
