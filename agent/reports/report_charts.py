"""The report's charts as inline SVG, drawn from `agent.reports.report.report_data`'s data.

No script, no font, nothing fetched: every chart is an `<svg role="img">` with a
`<title>` and a `<desc>` that says in words what the picture shows, and each mark has
its own `<title>` (shown on hover, read by screen readers). Colours are a colour-blind
safe set, and categories also differ by shape or hatching, so a chart printed in black
and white still reads. Every element is built by `el`, which escapes every attribute
and every text: participants' names and words end up in tooltips.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

HELD = "#1f5f99"
UPCOMING = "#86b6e0"
PAUSED = "#e69f00"
DECLINED = "#b3361b"
MISSED = "#cc79a7"
SKIPPED = "#8c8c8c"
AGREED = "#1b7a5a"
REPLY = "#6a3d9a"
MUTED = "#5a5a5a"
GRID = "#d9d9d9"
INK = "#1b1b1b"
WHITE = "#ffffff"
RISK_BG = "#fbeae5"
PAUSE_INK, PAUSE_BG = "#f6d58e", "#fdf3dc"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def esc(value: object) -> str:
    """Text or attribute value, escaped."""
    return html.escape(str(value), quote=True)


def num(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}".removesuffix(".0")


def el(tag: str, attrs: Mapping[str, object], content: str = "", *, tip: str = "") -> str:
    """`<tag a="v">content</tag>`: attribute values escaped (floats shortened); `content` is
    markup already built; `tip` becomes an escaped `<title>` child, the mark's tooltip."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        shown = num(value) if isinstance(value, float) else value
        parts.append(f' {name.rstrip("_").replace("_", "-")}="{esc(shown)}"')
    inner = (f"<title>{esc(tip)}</title>" if tip else "") + content
    if not inner and tag not in ("text", "title", "desc", "svg"):
        return f"<{tag}{''.join(parts)}/>"
    return f"<{tag}{''.join(parts)}>{inner}</{tag}>"


def text(x: float, y: float, words: object, *, anchor: str = "start", cls: str = "") -> str:
    attrs = {"x": float(x), "y": float(y), "text_anchor": anchor, "class_": cls or None}
    return el("text", attrs, esc(words))


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, **extra: object) -> str:
    attrs = {"x1": float(x1), "y1": float(y1), "x2": float(x2), "y2": float(y2)}
    return el("line", {**attrs, "stroke": stroke, **extra})


def box(x: float, y: float, w: float, h: float, fill: str, tip: str = "", **extra: object) -> str:
    attrs = {"x": float(x), "y": float(y), "width": float(max(w, 0)), "height": float(max(h, 0))}
    return el("rect", {**attrs, "fill": fill, **extra}, tip=tip)


def svg(chart_id: str, width: int, height: int, title: str, desc: str, body: str) -> str:
    labels = el("title", {"id": f"{chart_id}-t"}, esc(title)) + el(
        "desc", {"id": f"{chart_id}-d"}, esc(desc)
    )
    attrs = {
        "xmlns": "http://www.w3.org/2000/svg",
        "id": chart_id,
        "role": "img",
        "viewBox": f"0 0 {width} {height}",
        "width": "100%",
        "preserveAspectRatio": "xMinYMin meet",
        "aria_labelledby": f"{chart_id}-t {chart_id}-d",
        "style": f"max-width:{width}px",
    }
    return el("svg", attrs, labels + body)


def hatch(pattern_id: str, colour: str, background: str = WHITE) -> str:
    """A diagonal hatch, so a category still differs from its neighbours in grey print."""
    attrs = {
        "id": pattern_id,
        "patternUnits": "userSpaceOnUse",
        "width": 6,
        "height": 6,
        "patternTransform": "rotate(45)",
    }
    inner = el("rect", {"width": 6, "height": 6, "fill": background}) + line(
        0, 0, 0, 6, colour, stroke_width=3
    )
    return el("pattern", attrs, inner)


def shared_defs() -> str:
    """The patterns the charts refer to, defined once for the whole page."""
    style = "position:absolute;width:0;height:0;overflow:hidden"
    patterns = (
        hatch("wk-upcoming", UPCOMING)
        + hatch("wk-skipped", SKIPPED)
        + hatch("tl-paused", PAUSE_INK, PAUSE_BG)
    )
    attrs = {"width": 0, "height": 0, "aria_hidden": "true", "focusable": "false", "style": style}
    return el("svg", attrs, el("defs", {}, patterns))


def iso_week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def day_month(moment: datetime | date) -> str:
    return f"{moment.day} {MONTHS[moment.month - 1]}"


def when(iso: str | None) -> str:
    """`3 Mar 2027 16:00` (the data's times are already in the program's zone)."""
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    return f"{day_month(moment)} {moment.year} {moment:%H:%M}"


def hours(value: float | None) -> str:
    """`5 h`, `20.5 h`, `3 days`."""
    if value is None:
        return "-"
    if value < 48:
        return f"{value:.1f}".removesuffix(".0") + " h"
    return f"{value / 24:.1f}".removesuffix(".0") + " days"


_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000)


def axis_ticks(highest: float) -> list[int]:
    """Whole-number ticks from 0 to at or above `highest`, at most seven of them."""
    top = max(1, int(-(-highest // 1)))
    step = next((s for s in _STEPS if top / s <= 6), _STEPS[-1])
    return list(range(0, -(-top // step) * step + 1, step))


class Plot:
    """A plot area inside a chart, with a value axis (y) of whole-number ticks."""

    def __init__(self, width: int, height: int, margins: tuple[int, int, int, int]) -> None:
        self.width, self.height = width, height
        self.top, self.right, self.bottom, self.left = margins
        self.w = width - self.left - self.right
        self.h = height - self.top - self.bottom
        self.base = self.top + self.h

    def gridlines(self, values: Iterable[int], y_of: Any) -> list[str]:
        out = []
        for value in values:
            y = y_of(value)
            out.append(line(self.left, y, self.width - self.right, y))
            out.append(text(self.left - 6, y + 4, value, anchor="end", cls="tick"))
        return out

    def baseline(self) -> str:
        return line(self.left, self.base, self.width - self.right, self.base, INK)


# --- pipeline ---------------------------------------------------------------------------------


def pipeline_chart(pipeline: Mapping[str, Any], total: int) -> str:
    """Horizontal bars, one per step of the funnel, with count and share."""
    steps = pipeline["funnel"]
    width, row, left, bar_w = 900, 46, 190, 560
    body = []
    for i, step in enumerate(steps):
        y = 8 + i * row
        share = step["count"] / total if total else 0
        colour = AGREED if step["step"] == "meeting_regularly" else HELD
        tip = f"{step['label']}: {step['count']} of {total} pairs ({share:.0%})"
        body.append(text(left - 12, y + 24, step["label"], anchor="end", cls="lbl"))
        body.append(box(left, y + 4, bar_w, 30, "#f0f0f0"))
        body.append(box(left, y + 4, bar_w * share, 30, colour, tip, class_="funnel-bar"))
        words = f"{step['count']} of {total} ({share:.0%})"
        body.append(text(left + bar_w + 12, y + 24, words, cls="val"))
    desc = "; ".join(f"{s['label']}: {s['count']} of {total}" for s in steps)
    title = "Pipeline: how far the pairs got"
    return svg("chart-pipeline", width, row * len(steps) + 10, title, desc, "".join(body))


# --- meetings per week --------------------------------------------------------------------------

WEEK_SEGMENTS = (  # bottom to top: (status, fill, words)
    ("held", HELD, "held"),
    ("declined", DECLINED, "declined in the calendar"),
    ("missed", MISSED, "did not take place (reported)"),
    ("paused", PAUSED, "missed while paused"),
    ("upcoming", "url(#wk-upcoming)", "planned, still to come"),
    ("skipped", "url(#wk-skipped)", "skipped on request"),
)


def _week_x(weeks: Sequence[Mapping[str, Any]], plot: Plot) -> tuple[float, dict[str, float]]:
    """The width of one week and the left edge of each week, by its key."""
    step = plot.w / max(len(weeks), 1)
    return step, {w["week"]: plot.left + i * step for i, w in enumerate(weeks)}


def _now_x(weeks: Sequence[Mapping[str, Any]], now: datetime, plot: Plot) -> float | None:
    """Where `now` falls on a week axis, or None outside it."""
    if not weeks:
        return None
    step, _ = _week_x(weeks, plot)
    days = (now.date() - date.fromisoformat(weeks[0]["monday"])).days + now.hour / 24
    if not 0 <= days <= len(weeks) * 7:
        return None
    return plot.left + days / 7 * step


def _week_labels(weeks: Sequence[Mapping[str, Any]], plot: Plot, *, dates: bool) -> list[str]:
    step, xs = _week_x(weeks, plot)
    out = []
    for i, week in enumerate(weeks):
        if len(weeks) > 26 and i % 2:
            continue
        x = xs[week["week"]] + step / 2
        out.append(text(x, plot.base + 18, f"W{week['week'][-2:]}", anchor="middle", cls="tick"))
        if dates:
            monday = date.fromisoformat(week["monday"])
            out.append(text(x, plot.base + 34, day_month(monday), anchor="middle", cls="tick mute"))
    return out


def weeks_chart(weeks: Sequence[Mapping[str, Any]], now_iso: str) -> str:
    """Stacked bars per ISO week: held, declined, missed while paused, still to come, and
    (on top, hatched) skipped; `held/planned` above each bar; the current week shaded."""
    plot = Plot(1000, 330, (40, 10, 54, 44))
    values = axis_ticks(max((w["planned"] + w["skipped"] for w in weeks), default=0))
    scale = plot.h / values[-1]
    step, xs = _week_x(weeks, plot)
    now = datetime.fromisoformat(now_iso)
    this_week = next((w["week"] for w in weeks if w["week"] == iso_week_of(now)), None)
    body = []
    if this_week is not None:  # the week now falls in, shaded behind its bar
        x = xs[this_week]
        body.append(box(x, 16, step, plot.base - 16, "#eeeeee", class_="this-week"))
        body.append(text(x + step / 2, 12, f"now ({day_month(now)})", anchor="middle", cls="tick"))
    body += plot.gridlines(values, lambda v: plot.base - v * scale)
    bar = step * 0.68
    for week in weeks:
        x = xs[week["week"]] + (step - bar) / 2
        monday = date.fromisoformat(week["monday"])
        y = plot.base
        for status, fill, words in WEEK_SEGMENTS:
            if not week[status]:
                continue
            h = week[status] * scale
            y -= h
            tip = f"{week['week']} (week of {day_month(monday)}): {week[status]} {words}"
            body.append(box(x, y, bar, h, fill, tip, stroke=WHITE, class_=f"seg seg-{status}"))
        if week["planned"] or week["skipped"]:
            label = f"{week['held']}/{week['planned']}"
            body.append(text(x + bar / 2, y - 6, label, anchor="middle", cls="val"))
    body += _week_labels(weeks, plot, dates=True)
    body.append(plot.baseline())
    held = sum(w["held"] for w in weeks)
    planned = sum(w["planned"] for w in weeks)
    per_week = [
        f"{w['week']}: {w['held']} held of {w['planned']} planned"
        + (f", {w['skipped']} skipped" if w["skipped"] else "")
        for w in weeks
        if w["planned"] or w["skipped"]
    ]
    desc = f"{held} meetings held of {planned} planned. " + "; ".join(per_week)
    return svg("chart-weeks", plot.width, plot.height, "Meetings per week", desc, "".join(body))


# --- response times -----------------------------------------------------------------------------


def responses_chart(responses: Mapping[str, Any]) -> str:
    """A histogram of reply times in buckets, the median marked under its bucket."""
    buckets = responses["buckets"]
    plot = Plot(1000, 280, (24, 10, 72, 44))
    values = axis_ticks(max((b["count"] for b in buckets), default=0))
    scale = plot.h / values[-1]
    step = plot.w / len(buckets)
    body = plot.gridlines(values, lambda v: plot.base - v * scale)
    median = responses["median_hours"]
    for i, bucket in enumerate(buckets):
        x = plot.left + i * step + step * 0.12
        mid = x + step * 0.38
        h = bucket["count"] * scale
        tip = f"{bucket['count']} replies within {bucket['label']}"
        body.append(box(x, plot.base - h, step * 0.76, h, HELD, tip, class_="bucket"))
        if bucket["count"]:
            body.append(text(mid, plot.base - h - 6, bucket["count"], anchor="middle", cls="val"))
        body.append(text(mid, plot.base + 18, bucket["label"], anchor="middle", cls="tick"))
        high = bucket["to_hours"]
        if (
            median is not None
            and bucket["from_hours"] <= median
            and (high is None or median < high)
        ):
            y0 = plot.base + 28
            path = f"M{num(mid)} {y0} l-7 12 h14 z"
            body.append(el("path", {"d": path, "fill": DECLINED}, tip=f"median {hours(median)}"))
            body.append(text(mid, y0 + 30, f"median {hours(median)}", anchor="middle", cls="val"))
    body.append(plot.baseline())
    if median is None:
        desc = "No replies yet."
        body.append(text(plot.left + plot.w / 2, plot.top + plot.h / 2, desc, anchor="middle"))
    else:
        counts = "; ".join(f"{b['label']}: {b['count']}" for b in buckets)
        desc = f"{responses['count']} replies, median {hours(median)}. {counts}"
    title = "How fast people reply"
    return svg("chart-responses", plot.width, plot.height, title, desc, "".join(body))


# --- ratings ----------------------------------------------------------------------------------


def ratings_chart(
    weeks: Sequence[Mapping[str, Any]], ratings: Iterable[Mapping[str, Any]], now_iso: str
) -> str:
    """Each rating as a dot on its day (2 or less: a red square), the weekly mean as a line."""
    plot = Plot(1000, 260, (20, 10, 44, 44))
    step, xs = _week_x(weeks, plot)

    def y_of(value: float) -> float:
        return plot.base - (value - 1) / 4 * plot.h

    body = plot.gridlines(range(1, 6), y_of)
    body += _week_labels(weeks, plot, dates=False)
    entries = [e for e in ratings if e["week"] in xs]
    same: dict[tuple[str, int], int] = {}
    for entry in entries:
        moment = datetime.fromisoformat(entry["at"])
        key = (entry["at"][:10], entry["value"])
        nth = same[key] = same.get(key, -1) + 1  # equal ratings on one day: side by side
        x = xs[entry["week"]] + (moment.weekday() + moment.hour / 24) / 7 * step + nth * 7
        y = y_of(entry["value"])
        who = entry.get("by") or "someone"
        tip = f"{entry['pair']}, {who}: {entry['value']}/5 on {when(entry['at'])}"
        if entry["value"] <= 2:
            body.append(box(x - 5, y - 5, 10, 10, DECLINED, tip, class_="rating rating-low"))
        else:
            attrs = {"cx": float(x), "cy": float(y), "r": 5, "fill": HELD, "class": "rating"}
            body.append(el("circle", {**attrs, "fill_opacity": "0.45", "stroke": HELD}, tip=tip))
    means = [
        (xs[w["week"]] + step / 2, y_of(w["rating_mean"]), w)
        for w in weeks
        if w.get("rating_mean") is not None
    ]
    if len(means) > 1:
        path = " ".join(
            f"{'L' if i else 'M'}{num(x)} {num(y)}" for i, (x, y, _) in enumerate(means)
        )
        body.append(el("path", {"d": path, "fill": "none", "stroke": INK, "stroke_width": 2}))
    for x, y, week in means:
        tip = f"{week['week']}: mean {week['rating_mean']} of {week['ratings']} ratings"
        attrs = {"cx": float(x), "cy": float(y), "r": 4, "fill": INK, "stroke": WHITE}
        body.append(el("circle", {**attrs, "class": "rating-mean"}, tip=tip))
    now_x = _now_x(weeks, datetime.fromisoformat(now_iso), plot)
    if now_x is not None:
        body.append(line(now_x, plot.top, now_x, plot.base, INK, stroke_dasharray="4 3"))
    if entries:
        weekly = "; ".join(f"{w['week']}: {w['rating_mean']} ({w['ratings']})" for *_, w in means)
        desc = f"{len(entries)} ratings from 1 to 5. Weekly means: {weekly}"
    else:
        desc = "No ratings yet."
        body.append(text(plot.left + plot.w / 2, plot.top + plot.h / 2, desc, anchor="middle"))
    title = "Ratings over time"
    return svg("chart-ratings", plot.width, plot.height, title, desc, "".join(body))


# --- per-pair timeline ----------------------------------------------------------------------------

# kind -> (lane: 0 the agent's emails, 1 meetings, 2 the participants; shape; colour; words)
MARKERS: dict[str, tuple[int, str, str, str]] = {
    "welcome": (0, "dot", MUTED, "welcome or agreement sent"),
    "agreement": (0, "dot", MUTED, "welcome or agreement sent"),
    "reminder": (0, "ring", MUTED, "agreement reminder"),
    "booked": (0, "square", HELD, "meetings booked"),
    "nudge": (0, "down", PAUSED, "nudge sent"),
    "escalation": (0, "down", DECLINED, "coordinator told"),
    "cancelled": (0, "square-open", MUTED, "meetings cancelled"),
    "closure": (0, "square", INK, "closure sent"),
    "meeting_held": (1, "circle", HELD, "meeting held"),
    "meeting_upcoming": (1, "circle-open", HELD, "meeting still to come"),
    "meeting_paused": (1, "circle-open", PAUSED, "meeting missed while paused"),
    "meeting_declined": (1, "cross", DECLINED, "meeting declined"),
    "meeting_missed": (1, "cross", MISSED, "meeting did not take place"),
    "skipped": (1, "cross", SKIPPED, "meeting skipped"),
    "moved": (1, "diamond-open", HELD, "meeting moved"),
    "reply": (2, "up", REPLY, "reply"),
    "agreed": (2, "diamond", AGREED, "agreed"),
    "declined": (2, "diamond", DECLINED, "declined the agreement"),
    "calendar_declined": (2, "cross", DECLINED, "declined in the calendar"),
    "left": (2, "cross", INK, "left the program"),
    "away": (2, "ring", MUTED, "out of office"),
    "bounce": (2, "cross", DECLINED, "mail bounced"),
    "pause": (2, "bar", PAUSED, "paused or resumed"),
    "resume": (2, "bar", PAUSED, "paused or resumed"),
}
LANES = ("the agent's emails", "meetings", "the participants")


def marker(shape: str, x: float, y: float, colour: str, tip: str, cls: str = "") -> str:
    """One mark of the given shape centred on (x, y)."""
    x, y = float(x), float(y)
    common: dict[str, object] = {"class": cls or None}
    if shape in ("circle", "dot", "circle-open", "ring"):
        r = 6 if shape.startswith("circle") else 4
        hollow = shape in ("circle-open", "ring")
        fill = WHITE if hollow else colour
        stroke = {"stroke": colour, "stroke_width": 2} if hollow else {}
        return el("circle", {"cx": x, "cy": y, "r": r, "fill": fill, **stroke, **common}, tip=tip)
    if shape in ("square", "square-open"):
        fill = colour if shape == "square" else WHITE
        return box(x - 5, y - 5, 10, 10, fill, tip, stroke=colour, stroke_width=2, **common)
    if shape == "bar":
        return box(x - 1.5, y - 8, 3, 16, colour, tip, **common)
    paths = {
        "diamond": f"M{num(x)} {num(y - 7)} l7 7 l-7 7 l-7 -7 z",
        "diamond-open": f"M{num(x)} {num(y - 7)} l7 7 l-7 7 l-7 -7 z",
        "up": f"M{num(x)} {num(y - 6)} l6 10 h-12 z",
        "down": f"M{num(x)} {num(y + 6)} l6 -10 h-12 z",
        "cross": f"M{num(x - 5)} {num(y - 5)} l10 10 M{num(x + 5)} {num(y - 5)} l-10 10",
    }
    if shape == "cross":
        attrs = {"d": paths[shape], "stroke": colour, "stroke_width": 2.5, "fill": "none"}
    elif shape.startswith("diamond"):
        fill = WHITE if shape.endswith("open") else colour
        attrs = {"d": paths[shape], "fill": fill, "stroke": colour, "stroke_width": 2}
    else:
        attrs = {"d": paths[shape], "fill": colour}
    return el("path", {**attrs, **common}, tip=tip)


class TimeScale:
    """Maps moments to x across the timeline strips (every row shares it)."""

    def __init__(self, first: datetime, last: datetime, left: float, width: float) -> None:
        self.first, self.last = first, max(last, first + timedelta(days=1))
        self.left, self.width = left, width

    def x(self, moment: datetime) -> float:
        span = (self.last - self.first).total_seconds()
        return self.left + (moment - self.first).total_seconds() / span * self.width

    def covers(self, moment: datetime) -> bool:
        return self.first <= moment <= self.last


STRIP_W, STRIP_H = 760, 46
LANE_Y = (10, 23, 36)


def timeline_axis(scale: TimeScale, now: datetime) -> str:
    """The strip above the rows: a tick each Monday, month names, where now is."""
    right = scale.left + scale.width
    body = [line(scale.left, 27, right, 27, INK)]
    zone = scale.first.tzinfo
    day = scale.first.date() - timedelta(days=scale.first.weekday())
    while (monday := datetime.combine(day, time(0), zone)) <= scale.last:
        if monday >= scale.first:
            body.append(line(scale.x(monday), 22, scale.x(monday), 27, MUTED))
        day += timedelta(days=7)
    month = scale.first.date().replace(day=1)
    while (start := datetime.combine(month, time(0), zone)) <= scale.last:
        name = f"{MONTHS[month.month - 1]} {month.year}"
        if start >= scale.first:
            x = scale.x(start)
            body.append(line(x, 14, x, 27, INK))
            if x + 60 <= STRIP_W:  # a month that starts at the right edge: no room to name it
                body.append(text(x + 3, 12, name, cls="tick"))
        next_month = (month + timedelta(days=32)).replace(day=1)
        if start < scale.first and scale.x(datetime.combine(next_month, time(0), zone)) > 80:
            body.append(text(scale.left, 12, name, cls="tick"))  # the month it starts in
        month = next_month
    if scale.covers(now):
        body.append(text(scale.x(now), 40, "now", anchor="middle", cls="tick"))
    desc = f"From {when(scale.first.isoformat())} to {when(scale.last.isoformat())}"
    return svg("timeline-axis", STRIP_W, 44, "Time axis of the pair timelines", desc, "".join(body))


def timeline_strip(pair: Mapping[str, Any], scale: TimeScale, now: datetime) -> str:
    """One pair's row: paused spans shaded, three lanes of marks, a dashed line at now."""
    body = [box(0, 0, STRIP_W, STRIP_H, RISK_BG)] if pair["at_risk"] else []
    for lane_y in LANE_Y:
        body.append(line(scale.left, lane_y, scale.left + scale.width, lane_y))
    for pause in pair["pauses"]:
        a = scale.x(datetime.fromisoformat(pause["from"]))
        b = scale.x(datetime.fromisoformat(pause["until"]))
        tip = f"paused {when(pause['from'])} to {when(pause['until'])}"
        body.append(box(a, 2, max(b - a, 2), STRIP_H - 4, "url(#tl-paused)", tip, class_="pause"))
    if scale.covers(now):
        x = scale.x(now)
        body.append(line(x, 0, x, STRIP_H, INK, stroke_dasharray="4 3"))
    for entry in pair["timeline"]:
        if entry["kind"] not in MARKERS:
            continue
        lane, shape, colour, _ = MARKERS[entry["kind"]]
        by = f" ({entry['by']})" if entry.get("by") else ""
        words = f": {entry['text']}" if entry.get("text") else ""
        tip = f"{when(entry['at'])}: {entry['label']}{by}{words}"
        x = scale.x(datetime.fromisoformat(entry["at"]))
        body.append(marker(shape, x, LANE_Y[lane], colour, tip, f"mk mk-{entry['kind']}"))
    desc = (
        f"{pair['id']}: stage {pair['stage']}, {pair['meetings_held']} meetings held, "
        f"{len(pair['timeline'])} events"
        + (f"; at risk: {'; '.join(pair['risk_reasons'])}" if pair["at_risk"] else "")
    )
    title = f"Timeline of {pair['id']}"
    return svg(f"timeline-{pair['id']}", STRIP_W, STRIP_H, title, desc, "".join(body))


def swatch(content: str) -> str:
    attrs = {"width": 18, "height": 18, "viewBox": "0 0 18 18", "aria_hidden": "true"}
    return el("svg", attrs, content)


def timeline_legend() -> list[tuple[str, str]]:
    """(swatch, words) for each distinct mark, lane by lane, and the paused span."""
    seen: dict[str, str] = {}
    for _, shape, colour, words in sorted(MARKERS.values(), key=lambda m: m[0]):
        seen.setdefault(words, swatch(marker(shape, 9, 9, colour, "")))
    seen["paused (span)"] = swatch(box(0, 0, 18, 18, "url(#tl-paused)"))
    return [(mark, words) for words, mark in seen.items()]


def week_legend() -> list[tuple[str, str]]:
    return [(swatch(box(1, 1, 16, 16, fill)), words) for _, fill, words in WEEK_SEGMENTS]
