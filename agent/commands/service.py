"""`mentormail run`: the long-running service.

A tick runs at start and then every `service.poll_interval` (via `schedule`).
When the mailbox can wait for new mail (IMAP IDLE), the service waits on it
between ticks and runs a tick as soon as a reply arrives, so participants get
answers within seconds rather than at the next poll; it waits in slices of
at most `WAIT_SLICE` seconds so that a stop request is noticed promptly.
SIGTERM and SIGINT let the current tick finish, then the service exits 0;
the state lock is held for the whole run, so a second `run` on the same
state refuses to start.

The config is read again before a tick when the file changed (or on SIGHUP, e.g.
after editing a participants or pairs CSV file it names), so a coordinator's edit
takes effect without a restart: the tick reconciles it like any other change; a SIGHUP
(`systemctl reload mentormail`) runs that tick within seconds. A config with errors is reported
and the previous one kept. Changes to the connectors, the storage, the templates folder
or the token key need a restart, and say so.

Normal events (start, stop, a reload, each tick's report) are logged at INFO; WARNING and
ERROR are kept for what an operator has to look at, so a journal filtered on
`-p warning` shows only those.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

import schedule

from agent.commands.runtime import Runtime
from agent.commands.tick import run_tick
from agent.config.loading import load_config
from agent.config.model import Config, ConfigError
from agent.state.store import StoreError
from connectors.base import ConnectorError

log = logging.getLogger("mentormail.service")
WAIT_SLICE = 25.0  # seconds


# what a running service cannot take over from an edited config
NEEDS_RESTART = ("mail", "calendar", "storage", "security", "service")
RELOADED = "config reloaded"  # the one outcome of reload_config that is not a problem


def reload_config(rt: Runtime, config_path: Path) -> str | None:
    """Read the config again into the running `rt`; what happened, for the log (None when
    the file reads the same)."""
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        return f"the edited config has errors, so the previous one stays in use: {exc}"
    changed = [s for s in NEEDS_RESTART if getattr(cfg, s) != getattr(rt.cfg, s)]
    if cfg.program.templates != rt.cfg.program.templates:
        changed.append("program.templates")
    if changed:
        return f"config changes to {', '.join(changed)} take effect after a restart; kept as is"
    if cfg == rt.cfg:
        return None
    rt.cfg = cfg
    return RELOADED


def keep_long_lived() -> None:
    """Called after each tick. What is still alive then (the config, the stored states,
    the memos) lives on for the process; moving it out of the cyclic collector's sight
    keeps the collections during the next tick from walking millions of objects each
    time (at 10,000 pairs they doubled an idle tick's time). The tick's own garbage
    cycles are collected first, so none is kept."""
    gc.collect()
    gc.freeze()


def _file_version(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


def serve(cfg: Config, config_path: Path) -> int:
    stop = threading.Event()
    reread = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the current tick, then stopping", signal.Signals(signum).name
        )
        stop.set()

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        reread.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)

    rt = Runtime.open(cfg)
    scheduler = schedule.Scheduler()
    seen = _file_version(config_path)

    def tick() -> None:
        nonlocal seen
        if reread.is_set() or _file_version(config_path) != seen:
            reread.clear()
            seen = _file_version(config_path)
            outcome = reload_config(rt, config_path)
            if outcome:
                log.log(logging.INFO if outcome == RELOADED else logging.WARNING, "%s", outcome)
        try:
            report = run_tick(rt, datetime.now(rt.cfg.program.timezone))
        except StoreError as exc:  # e.g. a full disk: the state is as the last flush left it
            log.error("tick failed: %s", exc)
            return
        except Exception:  # keep serving: the next tick retries
            log.exception("tick failed")
            return
        finally:
            keep_long_lived()
        for line in report.lines():
            log.info("%s", line)

    interval = max(1, int(cfg.service.poll_interval.total_seconds()))
    scheduler.every(interval).seconds.do(tick)
    log.info(
        "mentormail serving %s (%s), a tick every %d s", cfg.program.name, config_path, interval
    )
    wait_for_mail = getattr(rt.mailbox, "wait", None)
    try:
        tick()
        while not stop.is_set():
            scheduler.run_pending()
            pause = min(float(interval), WAIT_SLICE, max(scheduler.idle_seconds or 0.0, 0.1))
            if wait_for_mail is None:
                stop.wait(min(1.0, pause))
                if reread.is_set() and not stop.is_set():
                    tick()
                continue
            try:
                arrived = wait_for_mail(pause)
            except ConnectorError as exc:  # the next tick reports it; do not spin meanwhile
                log.warning("waiting for new mail failed: %s", exc)
                stop.wait(pause)
                continue
            if (arrived or reread.is_set()) and not stop.is_set():
                tick()
    finally:
        rt.close()
    log.info("mentormail stopped")
    return 0
