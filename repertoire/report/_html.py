"""Rendering: the jinja2 environment (autoescaping every value) and figures as data URIs."""

from __future__ import annotations

import base64
import io
import math
from functools import cache

import jinja2
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: Resolution of embedded figures; a 9-inch figure fills a 900-pixel page column.
DPI = 100


@cache
def environment() -> jinja2.Environment:
    """Return the environment of the package templates, with autoescape on for every file."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("repertoire.report", "templates"),
        autoescape=True,  # every template, whatever its suffix
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = number
    return env


def render(template: str, **context: object) -> str:
    """Render one package template with ``context`` (every string escaped)."""
    return environment().get_template(template).render(**context)


def number(value: object, digits: int = 3) -> str:
    """Format a number for a table.

    Integers as such, others to ``digits`` significant digits, missing values as an en dash;
    text is returned unchanged (the template escapes it).
    """
    if value is None or isinstance(value, str):
        return "–" if value in (None, "") else value
    try:
        number_ = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number_):
        return "–"
    if number_.is_integer() and abs(number_) < 1e15:
        return str(int(number_))
    return f"{number_:.{digits}g}"


def percent(value: object) -> str:
    """Format a fraction as a percentage for a table.

    Two significant digits below 10%, whole percents above; anything not a number as
    :func:`number` does.
    """
    if isinstance(value, str) or value is None:
        return number(value)
    try:
        share = 100 * float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(share):
        return "–"
    return f"{share:.0f}%" if share == 0 or abs(share) >= 9.95 else f"{share:.2g}%"


def figure_uri(fig: Figure) -> str:
    """Return ``fig`` as a PNG data URI and close it.

    The PNG carries no metadata, so the same figure gives the same bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
