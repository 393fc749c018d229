"""`mentormail run`: the long-running service.

A tick runs at start and then every `service.poll_interval` (via `schedule`).
When the mailbox can wait for new mail (IMAP IDLE), the service waits on it
between ticks and runs a tick as soon as a reply arrives, so participants get
answers within seconds rather than at the next poll; it waits in slices of
at most `WAIT_SLICE` seconds so that a stop request is noticed promptly.
SIGTERM and SIGINT let the current tick finish, then the service exits 0;
the state lock is held for the whole run, so a second `run` on the same
state refuses to start.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

import schedule

from agent.config import Config
from agent.runtime import Runtime
from agent.tick import run_tick
from connectors.base import ConnectorError

log = logging.getLogger("mentormail.service")
WAIT_SLICE = 25.0  # seconds


def serve(cfg: Config, config_path: Path) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.warning(
            "received %s: finishing the current tick, then stopping", signal.Signals(signum).name
        )
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    rt = Runtime.open(cfg)
    scheduler = schedule.Scheduler()

    def tick() -> None:
        try:
            report = run_tick(rt, datetime.now(cfg.program.timezone))
        except Exception:  # keep serving: the next tick retries
            log.exception("tick failed")
            return
        for line in report.lines():
            log.info("%s", line)

    interval = max(1, int(cfg.service.poll_interval.total_seconds()))
    scheduler.every(interval).seconds.do(tick)
    log.warning(
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
                continue
            try:
                arrived = wait_for_mail(pause)
            except ConnectorError as exc:  # the next tick reports it; do not spin meanwhile
                log.warning("waiting for new mail failed: %s", exc)
                stop.wait(pause)
                continue
            if arrived and not stop.is_set():
                tick()
    finally:
        rt.close()
    return 0
