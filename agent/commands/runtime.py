"""Everything a tick needs, opened from a config: store, connectors, templates, key."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from agent.config.model import Config, ConfigError
from agent.mail_out.render import Renderer
from agent.state.opening import dsn_for, open_store
from agent.state.store import Store, StoreError
from connectors.base import Calendar, Mailbox
from connectors.registry import open_calendar, open_mailbox


def token_key(cfg: Config, *, create: bool = True) -> bytes:
    """The HMAC key for reply tokens: environment variable, key file, or a generated file.

    The generated file sits next to the state file with mode 0600, so the embedded
    default works out of the box and tokens stay valid across restarts. With
    `create=False` (read-only commands, a dry run) a missing file gives a random key
    held in memory only: no token issued so far can exist without the file, and the
    tokens a dry run computes with it are never sent.
    """
    security = cfg.security
    from_env = os.environ.get(security.token_key_env)
    if from_env:
        return from_env.encode()
    if security.token_key_file:
        path = cfg.resolve(security.token_key_file)
        try:
            return path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                [f"security.token_key_file: cannot read {path}: {exc.strerror}"]
            ) from None
    path = state_path(cfg).with_suffix(".key")
    try:
        if not path.exists() and not create:
            return secrets.token_hex(32).encode()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_bytes().strip()
    except OSError as exc:
        raise StoreError(f"cannot use the token key file {path}: {exc.strerror}") from None


def state_path(cfg: Config) -> Path:
    return cfg.resolve(cfg.storage.path)


@dataclass
class Runtime:
    cfg: Config
    store: Store
    mailbox: Mailbox
    calendar: Calendar
    renderer: Renderer
    token_key: bytes

    @classmethod
    def open(cls, cfg: Config, *, dry_run: bool = False) -> Runtime:
        """Everything for a tick. A dry run creates nothing on disk: the store is read
        under a shared lock (only if a lock file exists already), the connectors create no
        folders and the token key, when there is no key file yet, is held in memory."""
        store = open_store(
            state_path(cfg),
            cfg.storage.type,
            lock="shared" if dry_run else True,
            backups=cfg.storage.backups,
            dsn=dsn_for(cfg.storage),
        )
        try:
            templates = cfg.resolve(cfg.program.templates) if cfg.program.templates else None
            return cls(
                cfg,
                store,
                open_mailbox(cfg, create=not dry_run),
                open_calendar(cfg, create=not dry_run),
                Renderer(templates),
                token_key(cfg, create=not dry_run),
            )
        except BaseException:
            store.close(flush=False)
            raise

    def close(self, *, flush: bool = True) -> None:
        self.mailbox.close()
        self.calendar.close()
        self.store.close(flush=flush)
