"""``duration``: a report's seconds as the reader reads them (45 s, 3.5 min, 2.1 h)."""

from django import template

from workbench import charts

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    return charts.duration(seconds)
