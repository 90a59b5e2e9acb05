"""Numbers to text: percentiles and aligned tables."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Samples:
    """Latencies in seconds."""

    values: Sequence[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.values)
        if not ordered:
            return float("nan")
        # nearest-rank on the sorted samples
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank]

    @property
    def p50(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def __len__(self) -> int:
        return len(self.values)


def ms(seconds: float) -> str:
    """Milliseconds with sensible precision."""
    value = seconds * 1000
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(value: float, base: float) -> str:
    if base == 0 or math.isnan(value) or math.isnan(base):
        return "-"
    r = value / base
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:]) and len(cells) > 1
        for i in range(len(headers))
    ]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    out = [title, ""] if title else []
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells[1:])
    return "\n".join(out) + "\n"


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("x", "").replace("%", "").replace("-", "")
    stripped = stripped.replace(".", "").replace(" ", "").replace("<", "").replace(">", "")
    stripped = stripped.replace("=", "").replace("≤", "").replace("≥", "")
    return stripped.isdigit() or text in ("-", "")
