"""`mentormail preview`: one email rendered for a pair, as the recipient would see it.

Uses the pair's real state when a state file exists; otherwise it shows the
email as it will look, with the meeting series the slot finder would book.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agent.commands.runtime import state_path
from agent.config.model import Config, ConfigError
from agent.mail_in.message import Role
from agent.mail_out.context import coordinator_context, participant_context
from agent.mail_out.locale_fmt import language_chain
from agent.mail_out.render import RenderedEmail, Renderer, TemplateError
from agent.pairs.planner import Timeline, search_series, series_uid
from agent.pairs.program import PairState, Series
from agent.reports.digest import digest_context
from agent.state.opening import reading
from agent.state.private_files import write_private
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
    # agent.pairs.hearing_back
    "acknowledge": {"subject": "Re: ...", "done": []},
    # agent.pairs.ingest: a calendar's COUNTER the agent could not take
    "counter_declined": {
        "reason": "Saturday 6 March 10:00 (America/New_York) is outside Ben's hours",
        "original": None,
        "subject": "New Time Proposed: ...",
    },
    "confirm_reply": {"subject": "Re: ...", "done": [{"what": "agreed", "both": False}]},
    # agent.pairs.planner: a pause, its check and its end; leaving early
    "pause": {"paused_by": None, "since": None, "until": None, "cancelled": []},
    "pause_check": {"paused_by": None, "since": None, "until": None, "cancelled": []},
    "resume": {"paused_by": None},
    "goodbye": {"left": [], "reason": "", "by_coordinator": True, "meetings_cancelled": True},
    "partner_left": {"left": [], "reason": "", "meetings_cancelled": True},
}


def _state(cfg: Config, pair_id: str, now: datetime) -> PairState:
    path = state_path(cfg)
    if path.exists():
        with reading(path) as store:
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
    folder = cfg.resolve(cfg.program.templates) if cfg.program.templates else None
    return Renderer(folder, default_language=cfg.program.language)


def preview(
    cfg: Config,
    template: str,
    pair_id: str | None,
    role: Role,
    now: datetime,
    *,
    html: bool,
    language: str | None = None,
) -> str:
    """One email as its recipient reads it; in ``language`` instead of theirs if given."""
    rendered = render_preview(
        program_renderer(cfg), cfg, template, pair_id, role, now, language=language
    )
    if html:
        return rendered.html
    return f"Subject: {rendered.subject}\n\n{rendered.text}"


def export_previews(
    cfg: Config,
    dest: Path,
    pair_id: str | None,
    role: Role,
    now: datetime,
    language: str | None = None,
) -> list[Path]:
    """Every template rendered for the pair, as `<name>.txt` (subject + text) and `.html`."""
    renderer = program_renderer(cfg)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in renderer.names():
        rendered = render_preview(renderer, cfg, name, pair_id, role, now, language=language)
        text, html = dest / f"{name}.txt", dest / f"{name}.html"
        mode = cfg.reports.file_mode  # they hold the pair's names, addresses and goals
        write_private(text, f"Subject: {rendered.subject}\n\n{rendered.text}", mode)
        write_private(html, rendered.html, mode)
        written += [text, html]
    return written


def render_preview(
    renderer: Renderer,
    cfg: Config,
    template: str,
    pair_id: str | None,
    role: Role,
    now: datetime,
    *,
    language: str | None = None,
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
    if template == "confirm_change":  # agent.pairs.trust
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
    return renderer.render(template, context, language=language)


def _coordinator_email(name: str) -> bool:
    return name.startswith("coordinator_") or name == "digest"


def readers(cfg: Config) -> dict[tuple[str, bool], list[str]]:
    """Who reads which language: (tag, is the coordinator) -> names."""
    found: dict[tuple[str, bool], list[str]] = {}
    for person in cfg.participants:
        found.setdefault((person.language or cfg.program.language, False), []).append(person.name)
    coordinator = cfg.program.coordinator
    tag = coordinator.language or cfg.program.language
    found.setdefault((tag, True), []).append(coordinator.name)
    return found


def template_problems(cfg: Config, now: datetime) -> tuple[list[str], list[str]]:
    """What `validate` says about the template set: (warnings, errors).

    A warning for each language someone reads that some of their emails are not written
    in (they get those emails whole in the fallback language: a program that overrides
    ``welcome.txt.j2`` but not ``welcome.de.txt.j2`` sends its German readers its own
    words in its default language); an error for any email that fails to render in a
    language it is written in (a variable missing in one translation), with the first
    pair's preview context.
    """
    renderer = program_renderer(cfg)
    default = cfg.program.language
    warnings: list[str] = []
    errors: list[str] = []
    wanted = readers(cfg)
    for (tag, coordinator), names in sorted(wanted.items()):
        own = [t for t in language_chain(tag, default) if tag == t or tag.startswith(t + "-")]
        missing: dict[str, list[str]] = {}
        for name in renderer.names():
            if _coordinator_email(name) != coordinator:
                continue
            chosen = renderer.language_of(name, tag, default)
            if chosen not in own:
                missing.setdefault(chosen, []).append(name)
        people = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
        for chosen, emails in missing.items():
            warnings.append(
                f"templates: {len(emails)} email(s) have no {tag} version "
                f"({', '.join(emails)}); they go out in {chosen} to {people}"
            )
    languages = sorted({tag for tag, _ in wanted} | set(renderer.languages()) | {default})
    if not cfg.pairs:
        return warnings, errors
    for tag in languages:
        for name in renderer.names():
            if renderer.language_of(name, tag, default) != tag:
                continue
            try:
                render_preview(renderer, cfg, name, None, "mentee", now, language=tag)
            except TemplateError as exc:
                errors.append(f"templates: {name} in {tag}: {exc}")
    return warnings, errors
