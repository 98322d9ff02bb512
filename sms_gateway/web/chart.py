"""A per-minute throughput chart as plain SVG numbers: no JavaScript, readable on a phone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

WIDTH, HEIGHT, LEFT, BOTTOM = 600, 160, 34, 18


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int
    series: tuple[tuple[str, str], ...]  # (css class, polyline points)
    ticks: tuple[tuple[float, str], ...]  # (x, local time label)
    plot_left: int
    plot_bottom: int


def throughput(received: dict[int, int], sent: dict[int, int], now: dt.datetime,
               minutes: int, zone: ZoneInfo) -> Chart:
    """Two lines, in and out, over the last `minutes` whole minutes ending with the current."""
    last = int(now.timestamp() // 60)
    first = last - minutes + 1
    peak = max([*received.values(), *sent.values(), 1])
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - 4

    def x(minute: int) -> float:
        return round(LEFT + (minute - first) * plot_w / max(minutes - 1, 1), 1)

    def points(counts: dict[int, int]) -> str:
        return " ".join(f"{x(m)},{round(4 + plot_h * (1 - counts.get(m, 0) / peak), 1)}"
                        for m in range(first, last + 1))

    step = 30 if minutes >= 120 else 10
    ticks = tuple((x(m), dt.datetime.fromtimestamp(m * 60, zone).strftime("%H:%M"))
                  for m in range(first, last - step // 6)
                  if _local_minute(m, zone) % step == 0)
    return Chart(WIDTH, HEIGHT, peak, (("in", points(received)), ("out", points(sent))),
                 ticks, LEFT, HEIGHT - BOTTOM)


def _local_minute(minute: int, zone: ZoneInfo) -> int:
    """Minutes past midnight on the local clock: ticks fall on :00 and :30 even in zones with
    a half-hour offset."""
    local = dt.datetime.fromtimestamp(minute * 60, zone)
    return local.hour * 60 + local.minute
