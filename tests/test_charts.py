"""SVG charts: where points and bars land (worked out by hand), gaps, the y axis, escaping,
the data table that stands in for the picture, and the empty state.

The drawing area runs from x=60 to x=580 and from y=30 (top) to y=270 (bottom): with n
labels each takes a band of 520/n, and a line's point sits in the middle of its band.
"""

import datetime
import re
import zoneinfo
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.utils import timezone

from wagtail_coaching.charts import Chart, Series, nice_ticks

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class ChartParser(HTMLParser):
    """The charts of a page: title, description, lines, bars, axis labels, table."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figures = []
        self.figure = None
        self.series = None
        self.text_into = None
        self.row = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "figure" and "coaching-chart" in classes:
            self.figure = {
                "id": attrs["id"], "classes": classes, "title": "", "description": "",
                "empty": "", "svg": None, "series": {}, "ticks": [], "labels": [],
                "unit": "", "legend": [], "caption": "", "head": [], "rows": [],
                "summary": "", "desc_id": None,
            }
            self.figures.append(self.figure)
            return
        f = self.figure
        if f is None:
            return
        if tag == "figcaption":
            f["title_id"] = attrs.get("id")
            self.text_into = "title"
        elif tag == "p" and "coaching-chart__sr" in classes:
            f["desc_id"] = attrs.get("id")
            self.text_into = "description"
        elif tag == "p" and "coaching-chart__empty" in classes:
            self.text_into = "empty"
        elif tag == "li" and "coaching-chart__key" in classes:
            f["legend"].append("")
            self.text_into = "legend"
        elif tag == "svg" and "coaching-chart__svg" in classes:
            f["svg"] = attrs
        elif tag == "g" and "data-series" in attrs:
            self.series = f["series"].setdefault(
                int(attrs["data-series"]), {"lines": [], "points": [], "bars": []}
            )
        elif tag == "polyline" and self.series is not None:
            self.series["lines"].append(attrs["points"])
        elif tag == "path" and "coaching-chart__point" in classes:
            self.series["points"].append((attrs["data-x"], attrs["data-y"]))
        elif tag == "rect" and "coaching-chart__bar" in classes:
            self.series["bars"].append(
                (attrs["x"], attrs["y"], attrs["width"], attrs["height"])
            )
        elif tag == "text" and "coaching-chart__tick" in classes:
            f["ticks"].append([attrs["y"], ""])
            self.text_into = "tick"
        elif tag == "text" and "coaching-chart__label" in classes:
            f["labels"].append([attrs["x"], ""])
            self.text_into = "label"
        elif tag == "text" and "coaching-chart__unit" in classes:
            self.text_into = "unit"
        elif tag == "title":
            self.text_into = None  # tooltips are not the label text
        elif tag == "summary":
            self.text_into = "summary"
        elif tag == "caption":
            self.text_into = "caption"
        elif tag == "tr":
            self.row = []
        elif tag in ("th", "td") and self.row is not None:
            self.row.append("")
            self.text_into = "cell"

    def handle_endtag(self, tag):
        if self.figure is None:
            return
        if tag == "figure":
            self.figure = None
        elif tag == "g":
            self.series = None
        elif tag == "tr" and self.row is not None:
            if not self.figure["head"]:
                self.figure["head"] = self.row
            else:
                self.figure["rows"].append(self.row)
            self.row = None
        elif tag in ("figcaption", "p", "li", "text", "summary", "caption", "th", "td"):
            self.text_into = None

    def handle_data(self, data):
        f, where = self.figure, self.text_into
        if f is None or where is None:
            return
        if where == "tick":
            f["ticks"][-1][1] += data.strip()
        elif where == "label":
            f["labels"][-1][1] += data.strip()
        elif where == "legend":
            f["legend"][-1] += data.strip()
        elif where == "cell":
            self.row[-1] += data.strip()
        else:
            f[where] += data.strip()


def parse(html):
    parser = ChartParser()
    parser.feed(str(html))
    return parser.figures


def figure(chart_or_html):
    html = chart_or_html.render() if isinstance(chart_or_html, Chart) else chart_or_html
    (found,) = parse(html)
    return found


def table(fig):
    """{row label: [cells]} of a chart's table."""
    return {row[0]: row[1:] for row in fig["rows"]}


# -- The y axis ------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high, whole, ticks", [
    (0, 100, False, [0, 25, 50, 75, 100]),
    (0, 10, False, [0, 2, 4, 6, 8, 10]),
    (0, 7, True, [0, 2, 4, 6, 8]),
    (0, 3, True, [0, 1, 2, 3]),
    (0, 1, True, [0, 1]),
    (0, 1, False, [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (0, 12.5, False, [0, 5, 10, 15]),
    (0, 1234, True, [0, 500, 1000, 1500]),
    (-30, 100, True, [-50, 0, 50, 100]),
])
def test_ticks_are_round_numbers(low, high, whole, ticks):
    bottom, top, found = nice_ticks(low, high, whole)
    assert found == ticks
    assert (bottom, top) == (ticks[0], ticks[-1])


def test_y_max_sets_the_top_of_the_axis():
    chart = Chart("line", "Scores", ["a", "b"], [Series("Mood", [1, 2])], y_max=10)
    fig = figure(chart)
    assert [text for _y, text in fig["ticks"]] == ["0", "2", "4", "6", "8", "10"]
    # Grid lines every 48 from y=270 up to 30; each number's baseline sits 4 below its line.
    assert [y for y, _text in fig["ticks"]] == ["274", "226", "178", "130", "82", "34"]
    # Without it the axis fits the data: 0, 1, 2 (whole numbers: no step under one).
    fig = figure(Chart("line", "Scores", ["a", "b"], [Series("Mood", [1, 2])]))
    assert [text for _y, text in fig["ticks"]] == ["0", "1", "2"]
    # Percentages: quarters.
    fig = figure(Chart("bar", "Share", ["a"], [Series("Done", [40.0])], unit="%", y_max=100))
    assert [text for _y, text in fig["ticks"]] == ["0", "25", "50", "75", "100"]
    assert fig["unit"] == "%"


def test_values_above_y_max_stretch_the_axis():
    fig = figure(Chart("bar", "Share", ["a"], [Series("Done", [120])], y_max=100))
    assert [text for _y, text in fig["ticks"]] == ["0", "50", "100", "150"]
    # 120 of 150 on a 240 high axis: 192 high, from y=78 down to the zero line at 270; one
    # band of 520, the bar 416 wide after a 52 margin.
    assert fig["series"][0]["bars"] == [("112", "78", "416", "192")]


# -- Placing points and bars -----------------------------------------------------------------

def test_line_points_are_placed_by_hand_computed_coordinates():
    chart = Chart("line", "Mood", ["a", "b", "c", "d"], [Series("Mood", [0, 5, 10, 2.5])],
                  y_max=10)
    fig = figure(chart)
    # Bands of 130: centres at 125, 255, 385, 515. y = 270 - 24 * value.
    assert fig["series"][0]["lines"] == ["125,270 255,150 385,30 515,210"]
    assert fig["series"][0]["points"] == [
        ("125", "270"), ("255", "150"), ("385", "30"), ("515", "210"),
    ]
    assert fig["labels"] == [["125", "a"], ["255", "b"], ["385", "c"], ["515", "d"]]


def test_a_missing_value_breaks_the_line():
    chart = Chart("line", "Mood", ["a", "b", "c", "d"],
                  [Series("Mood", [5, 10, None, 2.5])], y_max=10)
    fig = figure(chart)
    # The last point stands alone: a marker, no line to it.
    assert fig["series"][0]["lines"] == ["125,150 255,30"]
    assert fig["series"][0]["points"] == [("125", "150"), ("255", "30"), ("515", "210")]
    chart.span_gaps = True
    assert figure(chart)["series"][0]["lines"] == ["125,150 255,30 515,210"]


def test_grouped_bars_by_hand():
    chart = Chart("bar", "Clients", ["a", "b"],
                  [Series("Active", [4, 8]), Series("Done", [2, None])])
    fig = figure(chart)
    # Axis 0..8 (steps of 2): y = 270 - 30 * value. Bands of 260, bars 104 wide after a
    # 26 margin: the first series at 86 and 346, the second beside it at 190.
    assert fig["series"][0]["bars"] == [("86", "150", "104", "120"), ("346", "30", "104", "240")]
    assert fig["series"][1]["bars"] == [("190", "210", "104", "60")]  # no bar for None


def test_stacked_bars_sit_on_each_other():
    chart = Chart("stacked", "Steps", ["Stage 1"],
                  [Series("Done", [3]), Series("To do", [5])])
    fig = figure(chart)
    # Axis 0..8: y = 270 - 30 * value; one bar 312 wide from x=164.
    assert fig["series"][0]["bars"] == [("164", "180", "312", "90")]
    assert fig["series"][1]["bars"] == [("164", "30", "312", "150")]


def test_negative_values_hang_below_the_zero_line():
    fig = figure(Chart("bar", "Net", ["a", "b"], [Series("Net", [-30, 100])]))
    assert [text for _y, text in fig["ticks"]] == ["-50", "0", "50", "100"]
    # -50..100 over 240: 1.6 per unit, zero at y = 30 + 1.6 * 100 = 190.
    assert fig["series"][0]["bars"] == [("86", "190", "208", "48"), ("346", "30", "208", "160")]


def test_many_labels_are_thinned_on_the_axis_but_all_in_the_table():
    labels = [f"Day {i}" for i in range(20)]
    fig = figure(Chart("line", "Days", labels, [Series("n", list(range(20)))]))
    assert [text for _x, text in fig["labels"]] == [f"Day {i}" for i in range(0, 20, 3)]
    assert list(table(fig)) == labels


def test_long_labels_are_cut_on_the_axis_only():
    name = "Maximilian Alexander Featherstonehaugh"
    fig = figure(Chart("bar", "Load", [name], [Series("Clients", [3])]))
    assert fig["labels"][0][1] == "Maximilian Al…"
    assert list(table(fig)) == [name]


# -- Words: dates, legend, accessibility -----------------------------------------------------

def test_dates_are_written_as_month_and_year():
    labels = [datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)]
    fig = figure(Chart("line", "Months", labels, [Series("n", [1, 2])]))
    assert [text for _x, text in fig["labels"]] == ["Oct 2026", "Nov 2026"]
    fig = figure(Chart("line", "Days", labels, [Series("n", [1, 2])], date_format="j M Y"))
    assert [text for _x, text in fig["labels"]] == ["1 Oct 2026", "1 Nov 2026"]


def test_times_are_written_in_the_current_time_zone():
    late = datetime.datetime(2026, 11, 30, 23, 30, tzinfo=datetime.UTC)
    chart = Chart("line", "Months", [late], [Series("n", [1])])
    with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
        assert figure(chart)["labels"][0][1] == "Nov 2026"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert figure(chart)["labels"][0][1] == "Dec 2026"


def test_the_svg_is_named_and_described():
    chart = Chart("line", "Active clients", ["a", "b"], [Series("Active", [1, 2])],
                  description="Clients who did something each month.")
    html = chart.render()
    fig = figure(html)
    svg = fig["svg"]
    assert svg["role"] == "img"
    assert svg["width"] == "100%" and svg["viewbox"] == "0 0 600 300"
    assert svg["aria-labelledby"] == fig["title_id"] and fig["title"] == "Active clients"
    assert svg["aria-describedby"] == fig["desc_id"]
    assert fig["description"] == "Clients who did something each month."
    # The text alternative: a table right under the chart, captioned with the title.
    assert fig["summary"] == "Show the numbers"
    assert fig["caption"] == "Active clients"
    assert html.index("</svg>") < html.index("<details") < html.index("<table")


def test_a_chart_without_description_gets_a_plain_summary():
    chart = Chart("bar", "Load", ["Ann", "Bo"], [Series("Clients", [1, 2])])
    assert figure(chart)["description"] == (
        "Bar chart of Clients, from Ann to Bo. The numbers are in the table below."
    )


def test_series_differ_by_more_than_colour():
    lines = Chart("line", "Two", ["a", "b"], [Series("One", [1, 2]), Series("Two", [2, 1])])
    html = lines.render()
    assert figure(html)["legend"] == ["One", "Two"]
    dashes = re.findall(
        r'class="coaching-chart__line"[^>]*?(?:stroke-dasharray="([^"]*)")?/>', html
    )
    assert dashes == ["", "8 4"]  # solid, then dashed
    markers = re.findall(r'class="coaching-chart__point" d="M([^"]*)"', html)
    assert "a4,4" in markers[0] and "a4,4" not in markers[2]  # circles, then squares
    bars = Chart("bar", "Two", ["a"], [Series("One", [1]), Series("Two", [2])]).render()
    fills = re.findall(r'class="coaching-chart__bar"[^>]*fill="([^"]*)"', bars)
    assert fills[0] == "currentColor" and fills[1].startswith("url(#")
    # One series: no legend (the title names it), unless asked for.
    assert figure(Chart("bar", "One", ["a"], [Series("One", [1])]))["legend"] == []
    assert figure(Chart("bar", "One", ["a"], [Series("Mood", [1])], legend=True))["legend"] == [
        "Mood"
    ]


# -- The table and escaping ------------------------------------------------------------------

def test_the_table_holds_every_value():
    chart = Chart(
        "line", "Sales", ["Jan", "Feb", "Mar"],
        [Series("Net", [Decimal("100.50"), Decimal("0.00"), None]),
         Series("Orders", [3, 0, 7])],
        unit="EUR", x_label="Month",
    )
    fig = figure(chart)
    assert fig["head"] == ["Month", "Net (EUR)", "Orders (EUR)"]
    assert table(fig) == {
        "Jan": ["100.50", "3"],
        "Feb": ["0.00", "0"],
        "Mar": ["–no data", "7"],
    }


def test_hostile_labels_are_escaped_everywhere():
    chart = Chart(
        "bar", SCRIPT, [SCRIPT, "b"], [Series(SCRIPT, [1, 2]), Series("ok", [2, 1])],
        unit=SCRIPT, description=SCRIPT, x_label=SCRIPT,
    )
    html = chart.render()
    assert SCRIPT not in html
    assert "<script" not in html
    assert html.count(ESCAPED) >= 8  # title, caption, description, legend, unit, label...
    fig = figure(html)
    assert fig["title"] == SCRIPT and fig["caption"] == SCRIPT and SCRIPT in table(fig)
    empty = Chart("line", SCRIPT, [], [], empty_text=SCRIPT).render()
    assert SCRIPT not in empty and ESCAPED in empty


# -- Empty -----------------------------------------------------------------------------------

@pytest.mark.parametrize("labels, series", [
    ([], []),
    (["a", "b"], []),
    (["a", "b"], [Series("n", [None, None])]),
])
def test_an_empty_chart_says_so_instead_of_an_empty_axis(labels, series):
    chart = Chart("line", "Mood", labels, series)
    assert chart.is_empty()
    html = chart.render()
    fig = figure(html)
    assert fig["title"] == "Mood"
    assert fig["empty"] == "No data yet."
    assert "<svg" not in html and "<table" not in html
    chart.empty_text = "No check-ins answered yet."
    assert figure(chart)["empty"] == "No check-ins answered yet."


def test_zero_is_data_not_emptiness():
    chart = Chart("bar", "Sales", ["a"], [Series("Net", [0])])
    assert not chart.is_empty()
    assert table(figure(chart)) == {"a": ["0"]}


# -- Misuse and the template tag -------------------------------------------------------------

def test_mismatched_series_and_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        Chart("line", "x", ["a", "b", "c"], [Series("n", [1, 2])]).render()
    with pytest.raises(ValueError, match="Unknown chart kind 'pie'"):
        Chart("pie", "x", ["a"], [Series("n", [1])]).render()


def test_the_template_tag_draws_the_chart():
    chart = Chart("bar", "Clients", ["a"], [Series("n", [1])], chart_id="my-chart")
    html = Template("{% load coaching_charts %}{% coaching_chart chart %}{% coaching_chart none %}"
                    "{% coaching_chart_css %}").render(Context({"chart": chart, "none": None}))
    assert html.count('<figure class="coaching-chart') == 1
    assert 'id="my-chart"' in html and 'aria-labelledby="my-chart-title"' in html
    assert '<link rel="stylesheet" href="/static/wagtail_coaching/charts.css">' in html


def test_every_chart_on_a_page_has_its_own_ids():
    a = Chart("bar", "A", ["a"], [Series("n", [1])])
    b = Chart("bar", "A", ["a"], [Series("n", [1])])
    assert a.chart_id != b.chart_id
    assert figure(a)["svg"]["aria-labelledby"] != figure(b)["svg"]["aria-labelledby"]
