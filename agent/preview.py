"""`mentormail preview`: one email rendered for a pair, as the recipient would see it.

Uses the pair's real state when a state file exists; otherwise it shows the
email as it will look, with the meeting series the slot finder would book.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agent.config import Config, ConfigError
from agent.context import coordinator_context, participant_context
from agent.digest import digest_context
from agent.model import Role
from agent.planner import Timeline, search_series, series_uid
from agent.private_files import write_private
from agent.program import PairState, Series
from agent.render import RenderedEmail, Renderer
from agent.runtime import state_path
from agent.store import Store
from connectors.registry import invites_attendees

_SAMPLE_EXTRAS: dict[str, dict[str, Any]] = {
    "agreement_reminder": {"reminder_number": 1, "other_agreed": True},
    "check_in": {"check_in_number": 1},
    "nudge": {"quiet_days": 14},
    "closure": {"progress": [], "meetings_held": 0},
    "coordinator_reply": {
        "reason": "reply not understood",
        "message": {
            "from_name": "",
            "from_addr": "",
            "subject": "Re: ...",
            "date": "",
            "text": "...",
        },
    },
    "coordinator_escalation": {"reason": "agreement", "waiting_days": 7, "missing": ["mentee"]},
}


def _state(cfg: Config, pair_id: str, now: datetime) -> PairState:
    path = state_path(cfg)
    if path.exists():
        with Store.reading(path) as store:
            state = store.pair_state(pair_id)
        if state.series:
            return state
    else:
        state = PairState(pair_id=pair_id)
    pair = cfg.pair(pair_id)
    found = search_series(cfg, pair, now)
    if found.slots:
        state = state.model_copy(
            update={"series": Series.from_slot(series_uid(cfg, pair), found.slots[0])}
        )
    return state


def program_renderer(cfg: Config) -> Renderer:
    return Renderer(cfg.resolve(cfg.program.templates) if cfg.program.templates else None)


def preview(
    cfg: Config, template: str, pair_id: str | None, role: Role, now: datetime, *, html: bool
) -> str:
    rendered = render_preview(program_renderer(cfg), cfg, template, pair_id, role, now)
    if html:
        return rendered.html
    return f"Subject: {rendered.subject}\n\n{rendered.text}"


def export_previews(
    cfg: Config, dest: Path, pair_id: str | None, role: Role, now: datetime
) -> list[Path]:
    """Every template rendered for the pair, as `<name>.txt` (subject + text) and `.html`."""
    renderer = program_renderer(cfg)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in renderer.names():
        rendered = render_preview(renderer, cfg, name, pair_id, role, now)
        text, html = dest / f"{name}.txt", dest / f"{name}.html"
        mode = cfg.reports.file_mode  # they hold the pair's names, addresses and goals
        write_private(text, f"Subject: {rendered.subject}\n\n{rendered.text}", mode)
        write_private(html, rendered.html, mode)
        written += [text, html]
    return written


def render_preview(
    renderer: Renderer, cfg: Config, template: str, pair_id: str | None, role: Role, now: datetime
) -> RenderedEmail:
    if template not in renderer.names():
        raise ConfigError(
            [f"template: unknown template {template!r}; known: {', '.join(renderer.names())}"]
        )
    pair_id = pair_id or cfg.pairs[0].id
    if pair_id not in {p.id for p in cfg.pairs}:
        raise ConfigError([f"--pair: unknown pair {pair_id!r}"])
    pair = cfg.pair(pair_id)
    state = _state(cfg, pair_id, max(now, Timeline.of(cfg).opens))
    extra = dict(_SAMPLE_EXTRAS.get(template, {}))
    extra["invitation_attached"] = not invites_attendees(cfg)
    if template == "follow_up" and state.series:
        extra["occurrence"] = state.series.first_start
    if template == "confirm_change":  # agent.trust
        zone = cfg.participant(getattr(pair, role)).timezone
        until = now + cfg.security.confirm_within
        extra |= {"changes": ["skip a meeting"], "asked_at": now, "until": until}
        extra |= {k: extra[k].astimezone(zone) for k in ("asked_at", "until")}
    if template == "slot_options":
        offer = max(cfg.cadence.meetings.offer, 3)
        found = search_series(cfg, pair, max(now, Timeline.of(cfg).opens), count=offer)
        uid = series_uid(cfg, pair)
        extra["options"] = tuple(Series.from_slot(uid, slot) for slot in found.slots)
    if template == "digest":
        context = coordinator_context(
            cfg,
            now,
            None,
            None,
            template,
            {"digest": digest_context(cfg, {pair_id: state}, [], [], set(), now)},
        )
    elif template.startswith("coordinator_"):
        context = coordinator_context(cfg, now, pair, state, template, extra)
    else:
        context = participant_context(cfg, pair, state, role, now, extra)
    return renderer.render(template, context)
