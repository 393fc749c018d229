"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script.

Nothing is fetched when it is opened (no CDN, no web font, no image file), and a
Content-Security-Policy in the page forbids scripts and any loading, as a second line of
defence: the first is that every piece of text is escaped (names and replies come from
participants). The page reads top to bottom as a coordinator asks: how many pairs got
how far, are meetings happening, do people answer, do they like it, and which pairs need
attention (at-risk pairs first, highlighted, with the reasons in words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from agent.reports.report_charts import (
    LANES,
    STRIP_W,
    TimeScale,
    day_month,
    esc,
    hours,
    pipeline_chart,
    ratings_chart,
    responses_chart,
    shared_defs,
    timeline_axis,
    timeline_legend,
    timeline_strip,
    week_legend,
    weeks_chart,
    when,
)

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #ffffff; color: #1b1b1b;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 1060px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 36px 0 6px; padding-top: 8px; border-top: 2px solid #1f5f99; }
p.lead { margin: 0 0 16px; color: #4a4a4a; }
.note { color: #4a4a4a; font-size: .92rem; max-width: 60em; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 10px; margin: 16px 0 8px; padding: 0; list-style: none; }
.tiles li { border: 1px solid #d0d0d0; border-radius: 6px; padding: 10px 12px; }
.tiles .big { display: block; font-size: 1.6rem; font-weight: 700; }
.tiles .risk { border-color: #b3361b; background: #fbeae5; }
figure { margin: 8px 0 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: .92rem; color: #4a4a4a; margin-top: 4px; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  fill: #1b1b1b; }
svg .tick { font-size: 12px; }
svg .mute { fill: #5a5a5a; }
svg .lbl { font-size: 15px; }
svg .val { font-size: 13px; font-weight: 600; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; padding: 0;
  margin: 8px 0 0; font-size: .9rem; }
.legend li { display: flex; align-items: center; gap: 6px; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 8px 0; }
.chips li { border: 1px solid #c8c8c8; border-radius: 14px; padding: 2px 12px; font-size: .92rem; }
.timeline { margin-top: 8px; }
.tl-row { display: grid; grid-template-columns: 250px minmax(0, 1fr); gap: 10px;
  align-items: center; border-bottom: 1px solid #e3e3e3; padding: 4px 0 4px 10px;
  break-inside: avoid; page-break-inside: avoid; }
.tl-row.at-risk { background: #fbeae5; box-shadow: inset 5px 0 0 #b3361b; }
.tl-label { font-size: .9rem; line-height: 1.3; overflow-wrap: anywhere; }
.tl-label strong { font-size: 1rem; }
.tl-label .why { color: #8a2a14; font-weight: 600; }
.tl-axis .tl-label { color: #4a4a4a; font-size: .8rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin-top: 8px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #dcdcdc; padding: 6px 8px; text-align: left;
  vertical-align: top; }
th[scope=row] small { overflow-wrap: anywhere; }
th { background: #f2f2f2; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.at-risk td, tr.at-risk th { background: #fbeae5; }
tr.at-risk th { border-left: 5px solid #b3361b; }
.why { color: #8a2a14; }
details { margin: 6px 0; }
details summary { cursor: pointer; }
ol.events { margin: 6px 0 12px; padding-left: 1.4em; font-size: .9rem; }
ol.events .t { color: #4a4a4a; font-variant-numeric: tabular-nums; }
.quote { font-style: italic; }
@media (max-width: 700px) { .tl-row { grid-template-columns: 1fr; } }
@media print {
  @page { size: A4; margin: 12mm; }
  body { font-size: 11pt; }
  table { font-size: 8.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  #events { display: none; }  /* closed <details> would print as bare headings */
}
"""


def _date(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso)
    return f"{day_month(moment)} {moment.year}"


def _tiles(data: Mapping[str, Any]) -> str:
    pipeline, meetings = data["pipeline"], data["meetings"]
    total = data["program"]["pairs"]
    funnel = {s["step"]: s["count"] for s in pipeline["funnel"]}
    to_date = meetings["held"] + meetings["paused"] + meetings["declined"] + meetings["missed"]
    rating = data["ratings"]["mean"]
    tiles = [
        ("pairs", total, "", ""),
        ("agreed", funnel["agreed"], f"of {total}", ""),
        ("meeting regularly", funnel["meeting_regularly"], f"of {total}", ""),
        ("at risk", pipeline["at_risk"], f"of {total}", "risk" if pipeline["at_risk"] else ""),
        ("meetings held", meetings["held"], f"of {to_date} due so far", ""),
        ("median reply time", hours(data["responses"]["median_hours"]), "", ""),
        ("mean rating", f"{rating}/5" if rating is not None else "-", "", ""),
    ]
    items = "".join(
        f'<li class="{cls}"><span class="big">{esc(value)}</span> {esc(name)} {esc(of)}</li>'
        for name, value, of, cls in tiles
    )
    return f'<ul class="tiles" aria-label="At a glance">{items}</ul>'


def _legend(items: Sequence[tuple[str, str]], label: str) -> str:
    lis = "".join(f"<li>{mark}<span>{esc(words)}</span></li>" for mark, words in items)
    return f'<ul class="legend" aria-label="{esc(label)}">{lis}</ul>'


def _pipeline(data: Mapping[str, Any]) -> str:
    pipeline = data["pipeline"]
    current = pipeline["current"]
    chips = [
        ("paused", pipeline["paused"]),
        ("closing", pipeline["closing"]),
        ("closed", pipeline["closed"]),
        ("someone declined the agreement", pipeline["declined"]),
        ("at risk", pipeline["at_risk"]),
    ]
    chips += [(f"stage {stage.replace('_', ' ')}", n) for stage, n in current.items() if n]
    chip_html = "".join(f"<li>{esc(words)}: <strong>{n}</strong></li>" for words, n in chips)
    return (
        '<section aria-labelledby="h-pipeline"><h2 id="h-pipeline">Pipeline</h2>'
        "<figure>" + pipeline_chart(pipeline, data["program"]["pairs"]) + "<figcaption>"
        "Each bar counts the pairs that got at least that far. <em>Meeting regularly</em>: "
        f"at least {pipeline['regular_min_held']} meetings held and, while the program runs, "
        "neither paused nor quiet.</figcaption></figure>"
        f'<ul class="chips" aria-label="Where the pairs are now">{chip_html}</ul></section>'
    )


def _weeks(data: Mapping[str, Any]) -> str:
    meetings = data["meetings"]
    return (
        '<section aria-labelledby="h-weeks"><h2 id="h-weeks">Meetings per week</h2>'
        "<figure>" + weeks_chart(data["weeks"], data["program"]["now"]) + "<figcaption>"
        f"{meetings['held']} held, {meetings['upcoming']} still to come, "
        f"{meetings['paused']} missed while paused, {meetings['declined']} declined, "
        f"{meetings['skipped']} skipped. Above each bar: held/planned. A planned meeting is "
        "held once it has ended, unless the pair was paused or someone declined it in the "
        "calendar.</figcaption></figure>"
        + _legend(week_legend(), "Legend: meetings per week")
        + "</section>"
    )


def _responses(data: Mapping[str, Any]) -> str:
    responses = data["responses"]
    return (
        '<section aria-labelledby="h-responses"><h2 id="h-responses">Response times</h2>'
        "<figure>" + responses_chart(responses) + "<figcaption>"
        f"{responses['count']} replies, median {esc(hours(responses['median_hours']))}: "
        "the time from the program's last email to a person until that person replied."
        "</figcaption></figure></section>"
    )


def _ratings(data: Mapping[str, Any]) -> str:
    ratings = data["ratings"]
    mean = f"{ratings['mean']}/5" if ratings["mean"] is not None else "-"
    return (
        '<section aria-labelledby="h-ratings"><h2 id="h-ratings">Ratings over time</h2>'
        "<figure>"
        + ratings_chart(data["weeks"], ratings["entries"], data["program"]["now"])
        + "<figcaption>"
        f"{ratings['count']} ratings, mean {esc(mean)}. Dots: single ratings on their day "
        "(red squares: 2 or less); line: the mean of each week.</figcaption></figure></section>"
    )


def _scale(data: Mapping[str, Any]) -> TimeScale:
    """From the first event (or the program's start) to a day past the end (or the last
    event), so every row shares one time axis."""
    program = data["program"]
    now = datetime.fromisoformat(program["now"])
    zone = now.tzinfo
    moments = [datetime.fromisoformat(e["at"]) for p in data["pairs"] for e in p["timeline"]]
    start = datetime.combine(date.fromisoformat(program["start"]), time(0), zone)
    end = datetime.combine(date.fromisoformat(program["end"]), time(0), zone) + timedelta(days=1)
    first = min([start, *moments]) - timedelta(days=1)
    last = max([end, *moments]) + timedelta(days=1)
    return TimeScale(first, last, 8, STRIP_W - 16)


def _pair_label(pair: Mapping[str, Any]) -> str:
    why = (
        f'<br><span class="why">At risk: {esc("; ".join(pair["risk_reasons"]))}</span>'
        if pair["at_risk"]
        else ""
    )
    return (
        f'<div class="tl-label"><strong>{esc(pair["id"])}</strong><br>'
        f"{esc(pair['mentor'])} &amp; {esc(pair['mentee'])}<br>"
        f"{esc(pair['stage'].replace('_', ' '))}, {pair['meetings_held']} held{why}</div>"
    )


def _timeline(data: Mapping[str, Any]) -> str:
    scale = _scale(data)
    now = datetime.fromisoformat(data["program"]["now"])
    rows = [
        '<div class="tl-row tl-axis"><div class="tl-label">Lanes: '
        + esc(", ".join(LANES))
        + "</div>"
        + timeline_axis(scale, now)
        + "</div>"
    ]
    for pair in data["pairs"]:
        cls = "tl-row at-risk" if pair["at_risk"] else "tl-row"
        rows.append(
            f'<div class="{cls}" id="pair-{esc(pair["id"])}">'
            + _pair_label(pair)
            + timeline_strip(pair, scale, now)
            + "</div>"
        )
    return (
        '<section aria-labelledby="h-timeline"><h2 id="h-timeline">Pairs over time</h2>'
        '<p class="note">One row per pair, pairs at risk first (shaded, with the reasons). '
        "Top lane: the program's emails; middle: meetings; bottom: what the participants "
        "did. Hover a mark for its date and details.</p>"
        f'<div class="timeline">{"".join(rows)}</div>'
        + _legend(timeline_legend(), "Legend: pair timelines")
        + "</section>"
    )


def _table(data: Mapping[str, Any]) -> str:
    head = (
        "<tr><th scope='col'>Pair</th><th scope='col'>Stage</th><th scope='col'>Agreed</th>"
        "<th scope='col' class='n'>Meetings held / due / planned</th>"
        "<th scope='col'>Next meeting</th><th scope='col'>Last heard</th>"
        "<th scope='col' class='n'>Last rating</th><th scope='col' class='n'>Median reply</th>"
        "<th scope='col'>At risk because</th></tr>"
    )
    rows = []
    for p in data["pairs"]:
        cls = ' class="at-risk"' if p["at_risk"] else ""
        rating = f"{p['last_rating']}/5" if p["last_rating"] is not None else "-"
        reasons = "; ".join(p["risk_reasons"]) or "-"
        rows.append(
            f"<tr{cls}><th scope='row'>{esc(p['id'])}<br><small>{esc(p['mentor'])} &amp; "
            f"{esc(p['mentee'])}</small></th><td>{esc(p['stage'].replace('_', ' '))}</td>"
            f"<td>{esc(_date(p['agreed']))}</td>"
            f"<td class='n'>{p['meetings_held']} / {p['meetings_planned_to_date']} / "
            f"{p['meetings_planned']}</td><td>{esc(when(p['next_meeting']))}</td>"
            f"<td>{esc(when(p['last_heard']))}</td><td class='n'>{esc(rating)}</td>"
            f"<td class='n'>{esc(hours(p['median_response_hours']))}</td>"
            f"<td class='why'>{esc(reasons)}</td></tr>"
        )
    return (
        '<section aria-labelledby="h-pairs"><h2 id="h-pairs">Pairs</h2>'
        "<table><caption>One row per pair, pairs at risk first. <em>Due</em>: planned "
        "meetings whose time has passed.</caption>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _events(data: Mapping[str, Any]) -> str:
    """Every pair's timeline as a list: the same facts as the chart, in words."""
    blocks = []
    for p in data["pairs"]:
        items = []
        for e in p["timeline"]:
            by = f" ({esc(e['by'])})" if e.get("by") else ""
            words = f': <span class="quote">{esc(e["text"])}</span>' if e.get("text") else ""
            items.append(
                f'<li><span class="t">{esc(when(e["at"]))}</span> {esc(e["label"])}{by}{words}</li>'
            )
        blocks.append(
            f"<details><summary>{esc(p['id'])}: {len(items)} events</summary>"
            f'<ol class="events">{"".join(items)}</ol></details>'
        )
    return (
        '<section id="events" aria-labelledby="h-events"><h2 id="h-events">Events by pair</h2>'
        + "".join(blocks)
        + "</section>"
    )


def report_html(data: Mapping[str, Any]) -> str:
    """The whole page."""
    program = data["program"]
    title = f"{program['name']}: program report"
    lead = (
        f"{_date(program['start'] + 'T00:00')} to {_date(program['end'] + 'T00:00')} · "
        f"{program['pairs']} pairs · as of {when(program['now'])} ({program['timezone']})"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + shared_defs()
        + f'<main><h1>{esc(title)}</h1><p class="lead">{esc(lead)}</p>'
        + _tiles(data)
        + _pipeline(data)
        + _weeks(data)
        + _responses(data)
        + _ratings(data)
        + _timeline(data)
        + _table(data)
        + _events(data)
        + "</main></body></html>\n"
    )
