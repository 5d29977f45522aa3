"""``{% coaching_chart chart %}`` draws a ``wagtail_coaching.charts.Chart`` (nothing for
None); ``{% coaching_chart_css %}`` links the charts' style sheet, for pages that do not
load it already."""

from django import template
from django.utils.html import format_html

from ..charts import stylesheet_url

register = template.Library()


@register.simple_tag
def coaching_chart(chart):
    if chart is None or chart == "":
        return ""
    return chart.render()


@register.simple_tag
def coaching_chart_css():
    return format_html('<link rel="stylesheet" href="{}">', stylesheet_url())
