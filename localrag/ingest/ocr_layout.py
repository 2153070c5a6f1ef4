"""Reading order for OCR results: boxes of text -> lines -> paragraphs, column by column.

OCR engines return text boxes roughly top to bottom; on a two-column page that interleaves
the columns line by line. Here a vertical gutter that (almost) no box crosses splits the
page into columns; boxes that do cross it (a title over both columns) are read where they
stand, and the column runs between them are read left column first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median


@dataclass(slots=True)
class Box:
    left: float
    top: float
    right: float
    bottom: float
    text: str

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def box_from_points(points: Sequence[Sequence[float]], text: str) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return Box(min(xs), min(ys), max(xs), max(ys), text)


def _gutter(boxes: list[Box]) -> float | None:
    """x of a vertical gap in the middle of the text that at most 10% of boxes (or 2) cross, with
    at least 3 boxes on each side; None when the page has one column."""
    if len(boxes) < 6:
        return None
    left = min(b.left for b in boxes)
    right = max(b.right for b in boxes)
    width = right - left
    best: tuple[int, float] | None = None
    steps = 60
    for k in range(int(steps * 0.3), int(steps * 0.7) + 1):
        x = left + width * k / steps
        crossing = sum(b.left < x < b.right for b in boxes)
        west = sum(b.right <= x for b in boxes)
        east = sum(b.left >= x for b in boxes)
        if crossing <= max(2, 0.1 * len(boxes)) and west >= 3 and east >= 3 and (best is None or crossing < best[0]):
            best = (crossing, x)
    return None if best is None else best[1]


def _lines(boxes: list[Box]) -> list[list[Box]]:
    """Boxes grouped into lines (vertical middles within half a line height), each left to right."""
    lines: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.middle, b.left)):
        if lines:
            last = lines[-1]
            mid = sum(b.middle for b in last) / len(last)
            if abs(box.middle - mid) <= 0.5 * min(box.height, max(b.height for b in last)):
                last.append(box)
                continue
        lines.append([box])
    return [sorted(line, key=lambda b: b.left) for line in lines]


def _text(lines: list[list[Box]]) -> str:
    """Lines joined with newlines; a gap of more than 1.2 line heights starts a paragraph."""
    if not lines:
        return ""
    height = median(max(b.height for b in line) for line in lines)
    out: list[str] = []
    prev_bottom: float | None = None
    for line in lines:
        top = min(b.top for b in line)
        if prev_bottom is not None and top - prev_bottom > 1.2 * height:
            out.append("")
        out.append(" ".join(b.text.strip() for b in line if b.text.strip()))
        prev_bottom = max(b.bottom for b in line)
    return "\n".join(out)


def reading_order(boxes: list[Box]) -> str:
    """The page's text in reading order (see the module docstring)."""
    boxes = [b for b in boxes if b.text.strip()]
    gutter = _gutter(boxes)
    if gutter is None:
        return _text(_lines(boxes))
    blocks: list[str] = []
    run: list[Box] = []

    def flush() -> None:
        if run:
            west = [b for b in run if b.right <= gutter]
            east = [b for b in run if b.right > gutter]
            blocks.extend(t for t in (_text(_lines(west)), _text(_lines(east))) if t)
            run.clear()

    for box in sorted(boxes, key=lambda b: b.top):
        if box.left < gutter < box.right:
            flush()
            blocks.append(_text(_lines([box])))
        else:
            run.append(box)
    flush()
    return "\n\n".join(blocks)
