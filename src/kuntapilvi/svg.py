"""Small inline SVG charts for static pages: no scripts, no external assets."""

from __future__ import annotations

from html import escape


def bars(rows: list[tuple[str, float, str]], width: int = 560, unit: str = "") -> str:
    """Horizontal bars: (label, value, shown value) per row, scaled to the largest value."""
    if not rows:
        return ""
    top = max(v for _, v, _ in rows) or 1.0
    row_h, label_w = 22, 190
    height = row_h * len(rows) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for i, (label, value, shown) in enumerate(rows):
        y = i * row_h + 2
        length = (width - label_w - 110) * value / top
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="#2b6cb0"><title>{escape(label)}: {escape(shown)}{escape(unit)}</title></rect>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{escape(shown)}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def gauge(value: float, target: float, label: str, width: int = 560) -> str:
    """A 0..100 % bar with a target mark."""
    inner = width - 20
    fill = inner * min(value, 100) / 100
    mark = 10 + inner * target / 100
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="54" role="img" '
        f'viewBox="0 0 {width} 54"><rect x="10" y="8" width="{inner}" height="20" fill="#e2e8f0"/>'
        f'<rect x="10" y="8" width="{fill:.1f}" height="20" fill="#2f855a"/>'
        f'<line x1="{mark:.1f}" y1="2" x2="{mark:.1f}" y2="34" stroke="#c53030" stroke-width="2"/>'
        f'<text x="10" y="48" font-size="12">{escape(label)}</text></svg>'
    )


def steps(points: list[tuple[str, int]], width: int = 560, height: int = 160) -> str:
    """A step line of a count over dated points (already in date order)."""
    if not points:
        return ""
    top = max(n for _, n in points) or 1
    left, bottom = 30, height - 24
    span = max(len(points) - 1, 1)
    xs = [left + (width - left - 10) * i / span for i in range(len(points))]
    ys = [bottom - (bottom - 10) * n / top for _, n in points]
    path = f"M{xs[0]:.1f},{ys[0]:.1f}"
    for i in range(1, len(points)):
        path += f" H{xs[i]:.1f} V{ys[i]:.1f}"
    labels = (
        f'<text x="{left}" y="{height - 6}" font-size="11">{escape(points[0][0])}</text>'
        f'<text x="{width - 80}" y="{height - 6}" font-size="11">{escape(points[-1][0])}</text>'
        f'<text x="0" y="14" font-size="11">{top}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'viewBox="0 0 {width} {height}"><path d="{path}" fill="none" stroke="#2b6cb0" '
        f'stroke-width="2"/>{labels}</svg>'
    )
