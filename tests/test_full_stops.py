"""A date or time that ends a sentence brings no second full stop: "10 a.m." and never
"10 a.m.." (English times end in a full stop, and so do dates in several languages)."""

import datetime
import re
from pathlib import Path

from django.template import Context, Template
from django.utils import translation
from django.utils.formats import date_format

from wagtail_coaching.utils.dates import before_full_stop

TEMPLATES = Path(__file__).resolve().parent.parent / "wagtail_coaching" / "templates"
BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?\b([^%]*)%\}(.*?)\{%\s*end", re.S)
# A date or time filter, or the package's own session times.
FORMATTED = re.compile(r"\|(date|time)\b|session_time|naturaltime")


def test_a_final_full_stop_is_dropped_only_where_there_is_one():
    assert before_full_stop("10 a.m.") == "10 a.m"
    assert before_full_stop("March 4, 2030") == "March 4, 2030"
    assert before_full_stop("") == "" and before_full_stop(None) == ""


def test_english_times_and_hungarian_dates_end_their_sentence_once():
    moment = datetime.datetime(2030, 3, 4, 10, 0)
    with translation.override("en"):
        time = date_format(moment, "TIME_FORMAT")
        assert time.endswith(".")  # "10 a.m.": the case this is about
        text = Template(
            "{% load coaching_tags %}Moved to {{ t|before_full_stop }}."
        ).render(Context({"t": time}))
        assert text == f"Moved to {time}" and ".." not in text
    with translation.override("hu"):
        day = date_format(moment.date(), "DATE_FORMAT")
        assert day.endswith(".")
        text = Template(
            '{% load coaching_tags %}{% with when=d|date:"DATE_FORMAT"|before_full_stop %}'
            "Done on {{ when }}.{% endwith %}"
        ).render(Context({"d": moment.date()}))
        assert text == f"Done on {day}" and ".." not in text


def test_no_template_puts_a_full_stop_after_a_formatted_date_of_its_own():
    """Every sentence of a template that ends with a date or time it formats passes it
    through ``before_full_stop``."""
    offenders = []
    for path in TEMPLATES.rglob("*"):
        if path.suffix not in (".html", ".txt"):
            continue
        source = path.read_text()
        for head, body in BLOCK.findall(source):
            bound = dict(re.findall(r"(\w+)=(\S+)", head))
            for name in re.findall(r"\{\{\s*(\w+)\s*\}\}\.", body):
                expression = bound.get(name, "")
                if FORMATTED.search(expression) and "before_full_stop" not in expression:
                    offenders.append(f"{path.relative_to(TEMPLATES)}: {name}={expression}")
        # {% with when=x|date:... %} ... {{ when }}. outside a blocktranslate
        for name, expression in re.findall(r"\{%\s*with\s+(\w+)=(\S+)", source):
            if (FORMATTED.search(expression) and "before_full_stop" not in expression
                    and re.search(r"\{\{\s*" + name + r"\s*\}\}\.", source)):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {name}={expression}")
        for expression in re.findall(r"\{\{\s*([^}]+?)\s*\}\}\.(?!\w)", source):
            if FORMATTED.search(expression) and "before_full_stop" not in expression:
                offenders.append(f"{path.relative_to(TEMPLATES)}: {expression}")
    assert not offenders, "\n".join(offenders)
