"""Charts drawn on the server as SVG: no script, no CDN.

A ``Chart`` computes every coordinate in Python; the template
``wagtail_coaching/charts/chart.html`` only places them. Each chart is a ``<figure>``: a
visible title (the SVG's accessible name), a sentence for screen readers, the SVG, and its
text alternative, a real data table under "Show the numbers". Series differ by more than
colour: lines by dash pattern and marker shape, bars by fill pattern. Colours come from CSS
variables in ``wagtail_coaching/charts.css`` (with a dark palette for Wagtail's dark mode);
the SVG carries the light palette as attributes, so it still reads without the style sheet.

    chart = Chart(kind="line", title="Active clients", labels=[date(2026, 10, 1), ...],
                  series=[Series("Active clients", [12, 15, None, 18])], unit="clients")
    chart.render()                          # or {% coaching_chart chart %}
"""

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from django.template.defaultfilters import date as date_filter
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _

KINDS = ("line", "bar", "stacked")

# The drawing, in viewBox units; the SVG scales to its container's width.
WIDTH, HEIGHT = 600, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 30
PLOT_WIDTH = WIDTH - LEFT - RIGHT  # 520: x from 60 to 580
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM  # 240: y from 30 (top) to 270 (bottom)
# Beyond this many x labels only every n-th is written (the table has them all).
MAX_X_LABELS = 8
# Longer x labels are cut (with an ellipsis) on the axis, never in the table.
LABEL_CHARS = 14
# Aim for about this many steps between ticks.
TICK_INTERVALS = 4

# Light palette: each colour has at least 4.5:1 contrast on white. The style sheet sets
# the same as CSS variables and a lighter set for dark backgrounds.
PALETTE = ("#1a5c5a", "#a84300", "#5a3ea8", "#a3195b", "#356a00", "#0b57d0")
DASHES = ("", "8 4", "2 4", "10 4 2 4", "6 2 2 2", "1 4")
MARKERS = ("circle", "square", "triangle", "diamond")
PATTERNS = ("solid", "stripes", "dots", "cross", "horizontal", "vertical")
MARKER_SIZE = 4


@dataclass
class Series:
    label: str
    values: list  # numbers, or None for a gap (no data)


@dataclass
class Chart:
    kind: str  # "line", "bar" (grouped bars) or "stacked" (stacked bars)
    title: str  # the visible title and the SVG's accessible name
    labels: list  # x labels: strings, or dates shown with ``date_format``
    series: list = field(default_factory=list)
    unit: str = ""  # "%", "clients"...: on the y axis and in the table's headers
    description: str = ""  # one sentence for screen readers; a plain summary if empty
    y_max: float | None = None  # the axis reaches at least this (10 for scores, 100 for %)
    x_label: str = ""  # what the x labels are ("Month"): the table's first header
    date_format: str = "M Y"  # how date labels are written (Django's date filter)
    span_gaps: bool = False  # lines: join the points either side of a gap
    empty_text: str = ""  # said instead of the chart when there is nothing to draw
    legend: bool | None = None  # name the series above the chart (None: when more than one)
    chart_id: str = ""  # the figure's id (unique on the page; made up when empty)

    template_name: ClassVar[str] = "wagtail_coaching/charts/chart.html"

    def __post_init__(self):
        if not self.chart_id:
            self.chart_id = f"coaching-chart-{uuid.uuid4().hex[:10]}"

    def is_empty(self):
        return not self.labels or not any(
            v is not None for s in self.series for v in s.values
        )

    def render(self):
        return render_to_string(self.template_name, self.context())

    def __html__(self):
        return self.render()

    # -- Geometry ------------------------------------------------------------------------

    def context(self):
        """Everything the template places: coordinates, texts and the table."""
        if self.kind not in KINDS:
            raise ValueError(f"Unknown chart kind {self.kind!r}; use one of {KINDS}.")
        for s in self.series:
            if len(s.values) != len(self.labels):
                raise ValueError(
                    f"Series {s.label!r} has {len(s.values)} values for "
                    f"{len(self.labels)} labels."
                )
        texts = [label_text(label, self.date_format) for label in self.labels]
        context = {
            "chart": self,
            "id": self.chart_id,
            "title": str(self.title),
            "unit": str(self.unit),
            "empty": self.is_empty(),
            "empty_text": str(self.empty_text) or _("No data yet."),
            "description": str(self.description) or self.summary(texts),
            "width": WIDTH,
            "height": HEIGHT,
            "legend": len(self.series) > 1 if self.legend is None else self.legend,
            "is_line": self.kind == "line",
            "table": self.table(texts),
        }
        if context["empty"]:
            return context
        bottom, top, ticks = self.scale()

        def y_of(value):
            return TOP + PLOT_HEIGHT * (top - value) / (top - bottom)

        band = PLOT_WIDTH / len(self.labels)
        context.update(
            grid=[
                {"y": fmt(y_of(t)), "text_y": fmt(y_of(t) + 4), "text": number_text(t)}
                for t in ticks
            ],
            plot={"x1": LEFT, "x2": LEFT + PLOT_WIDTH, "y1": TOP, "y2": TOP + PLOT_HEIGHT,
                  "label_x": LEFT - 8, "zero_y": fmt(y_of(0))},
            unit_position={"x": 4, "y": TOP - 14},
            x_labels=self.x_labels(texts, band),
            series=self.drawn_series(texts, band, y_of),
        )
        return context

    def numbers(self):
        return [
            float(v) for s in self.series for v in s.values if v is not None
        ]

    def scale(self):
        """(bottom, top, ticks) of the y axis: from zero (or the lowest value below zero) to
        the highest value or ``y_max``, on round steps."""
        if self.kind == "stacked":
            highs = [sum(float(s.values[i]) for s in self.series
                         if s.values[i] is not None and s.values[i] > 0)
                     for i in range(len(self.labels))]
            lows = [sum(float(s.values[i]) for s in self.series
                        if s.values[i] is not None and s.values[i] < 0)
                    for i in range(len(self.labels))]
        else:
            highs = lows = self.numbers()
        low = min([0.0, *lows])
        high = max([0.0, *highs, float(self.y_max or 0)])
        if high == low:
            high = low + 1
        whole = all(
            isinstance(v, int) and not isinstance(v, bool)
            for s in self.series for v in s.values if v is not None
        ) and (self.y_max is None or float(self.y_max).is_integer())
        return nice_ticks(low, high, whole)

    def x_labels(self, texts, band):
        every = math.ceil(len(texts) / MAX_X_LABELS)
        return [
            {"x": fmt(LEFT + band * (i + 0.5)), "y": TOP + PLOT_HEIGHT + 18,
             "text": shorten(text), "full": text}
            for i, text in enumerate(texts) if i % every == 0
        ]

    def drawn_series(self, texts, band, y_of):
        count = len(self.series)
        zero = y_of(0)
        drawn = []
        stack_up = [0.0] * len(texts)
        stack_down = [0.0] * len(texts)
        for k, s in enumerate(self.series):
            entry = {
                "index": k,
                "label": str(s.label),
                "colour_class": f"coaching-chart--c{k % len(PALETTE)}",
                "colour": PALETTE[k % len(PALETTE)],
                "dash": DASHES[k % len(DASHES)],
                "pattern": PATTERNS[k % len(PATTERNS)],
                "pattern_id": f"{self.chart_id}-pattern-{k}",
                "marker": MARKERS[k % len(MARKERS)],
                "swatch_marker": marker_path(MARKERS[k % len(MARKERS)], 14, 6),
                "segments": [],
                "points": [],
                "bars": [],
            }
            segment = []
            for i, value in enumerate(s.values):
                tip = f"{s.label}, {texts[i]}: {value_text(value, self.unit)}"
                if value is None:
                    if not self.span_gaps and segment:
                        entry["segments"].append(segment)
                        segment = []
                    continue
                v = float(value)
                if self.kind == "line":
                    x, y = LEFT + band * (i + 0.5), y_of(v)
                    segment.append(f"{fmt(x)},{fmt(y)}")
                    entry["points"].append({
                        "x": fmt(x), "y": fmt(y), "tip": tip,
                        "d": marker_path(entry["marker"], x, y),
                    })
                    continue
                if self.kind == "bar":
                    width = band * 0.8 / count
                    x = LEFT + band * i + band * 0.1 + width * k
                    base = zero
                else:  # stacked: each value sits on the ones before it
                    width = band * 0.6
                    x = LEFT + band * i + band * 0.2
                    stack = stack_up if v >= 0 else stack_down
                    base = y_of(stack[i])
                    stack[i] += v
                end = y_of(v) if self.kind == "bar" else y_of(stack[i])
                entry["bars"].append({
                    "x": fmt(x), "y": fmt(min(base, end)), "width": fmt(width),
                    "height": fmt(abs(base - end)), "tip": tip,
                })
            if segment:
                entry["segments"].append(segment)
            # A lone point has no line; its marker shows it.
            entry["segments"] = [
                " ".join(points) for points in entry["segments"] if len(points) > 1
            ]
            drawn.append(entry)
        return drawn

    # -- Words ---------------------------------------------------------------------------

    def table(self, texts):
        return {
            "head": [str(self.x_label)] + [
                f"{s.label} ({self.unit})" if self.unit else str(s.label) for s in self.series
            ],
            "rows": [
                {"label": text, "cells": [s.values[i] for s in self.series]}
                for i, text in enumerate(texts)
            ],
        }

    def summary(self, texts):
        kinds = {"line": _("Line chart"), "bar": _("Bar chart"), "stacked": _("Stacked bar chart")}
        names = ", ".join(str(s.label) for s in self.series)
        if not texts:
            return f"{kinds.get(self.kind, '')}: {names}."
        return _("%(kind)s of %(names)s, from %(first)s to %(last)s. The numbers are in the "
                 "table below.") % {
            "kind": kinds.get(self.kind, ""), "names": names, "first": texts[0],
            "last": texts[-1],
        }


# -- Helpers ---------------------------------------------------------------------------------

def nice_ticks(low, high, whole=False):
    """(bottom, top, ticks) covering ``low``..``high`` on steps of 1, 2, 2.5 or 5 times a
    power of ten (2.5 only where it stays whole: 25, 250...); ``whole``: no step under 1."""
    raw = (high - low) / TICK_INTERVALS
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw * (1 - 1e-9):
            break
    if m == 2.5 and magnitude < 10:
        m = 2
    step = round(m * magnitude, 10)
    if whole:
        step = max(step, 1)
    bottom = math.floor(low / step + 1e-9) * step
    top = math.ceil(high / step - 1e-9) * step
    count = round((top - bottom) / step)
    ticks = [round(bottom + i * step, 10) for i in range(count + 1)]
    return bottom, top, ticks


def fmt(value):
    """A coordinate: one decimal, no trailing zero."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def number_text(value):
    if float(value).is_integer():
        return formats.number_format(int(value), use_l10n=True, force_grouping=True)
    return formats.number_format(round(value, 2), use_l10n=True, force_grouping=True)


def value_text(value, unit=""):
    if value is None:
        return _("no data")
    text = formats.localize(value, use_l10n=True)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def label_text(value, date_format="M Y"):
    """An x label as written: dates with ``date_format`` (aware times in the current zone)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_filter(value, date_format)
    if isinstance(value, date):
        return date_filter(value, date_format)
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return formats.localize(value, use_l10n=True)
    return str(value)


def shorten(text, limit=LABEL_CHARS):
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def marker_path(shape, x, y, r=MARKER_SIZE):
    """The outline of a point's marker, centred on (x, y)."""
    def polygon(*corners):
        return "M" + "L".join(f"{fmt(x + dx)},{fmt(y + dy)}" for dx, dy in corners) + "Z"

    if shape == "square":
        return polygon((-r, -r), (r, -r), (r, r), (-r, r))
    if shape == "triangle":
        return polygon((0, -r - 1), (r + 1, r), (-r - 1, r))
    if shape == "diamond":
        return polygon((0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0))
    return (f"M{fmt(x - r)},{fmt(y)}a{fmt(r)},{fmt(r)} 0 1,0 {fmt(2 * r)},0"
            f"a{fmt(r)},{fmt(r)} 0 1,0 {fmt(-2 * r)},0Z")


def stylesheet_url():
    from django.templatetags.static import static

    return static("wagtail_coaching/charts.css")
