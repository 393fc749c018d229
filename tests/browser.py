"""Headless Chromium for the tests: open a local HTML file, report what went wrong, take
a screenshot (and optionally a PDF, as printing would make it).

The browser is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
JSON messages ending in NUL on file descriptors 3 and 4), so no port is opened and
nothing is scraped from log output. What is collected:

- console errors: uncaught exceptions (`Runtime.exceptionThrown`), `console.error` and
  `console.assert` calls, and the browser's own error log entries (`Log.entryAdded`,
  e.g. a resource that failed to load or a Content-Security-Policy violation);
- every URL the page asked for other than itself and `data:` URLs (a self-contained page
  asks for none); DNS is disabled for the browser (`--host-resolver-rules`), so no test
  can reach the network even by mistake.

`read_png` is a small PNG decoder (zlib + the five row filters) for checking that a
screenshot is not blank without an imaging library.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "chromium is not installed; run .ci/run (it installs Debian's chromium), or as root: "
    "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium"
)


class BrowserError(Exception):
    """Chromium is missing, did not start, or did not answer in time."""


def chromium() -> str:
    """The Chromium executable, or BrowserError saying how to install it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError(INSTALL_HINT)


@dataclass
class PageResult:
    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # other than the page and data: URLs
    values: dict[str, Any] = field(default_factory=dict)  # the `evaluate` expressions' values
    screenshot: Path | None = None
    pdf: bytes | None = None


class _DevTools:
    """The DevTools protocol over the browser's pipe: commands in, answers and events out."""

    def __init__(self, to_browser: int, from_browser: int, process: subprocess.Popen[bytes]):
        self.to_browser, self.from_browser, self.process = to_browser, from_browser, process
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self.from_browser], [], [], min(left, 0.5))
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (code {self.process.poll()})")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") != self.next_id:
                self.events.append(answer)
                continue
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            return answer.get("result", {})

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read(deadline))


def _errors_and_requests(
    events: list[dict[str, Any]], page_url: str
) -> tuple[list[str], list[str]]:
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            thrown = details.get("exception", {})
            errors.append(str(thrown.get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(str(params["entry"].get("text")))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url != page_url and not url.startswith("data:"):
                requests.append(url)
    return errors, requests


_TRAMPOLINE = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4)\n"
    "os.close(int(sys.argv[1])); os.close(int(sys.argv[2]))\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def _pipe() -> tuple[int, int]:
    """A pipe whose ends are numbered 10 or above, clear of the 3 and 4 Chromium wants."""
    ends = []
    for fd in os.pipe():
        ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return ends[0], ends[1]


def open_page(
    path: Path,
    *,
    screenshot: Path | None = None,
    width: int = 1280,
    height: int = 2000,
    evaluate: dict[str, str] | None = None,
    pdf: bool = False,
    media: str | None = None,
    timeout: float = 60,
) -> PageResult:
    """Load `path` in headless Chromium, wait for its load event, and report.

    `evaluate` maps names to JavaScript expressions run in the page after load (their
    JSON values come back in `values`; the page itself need not allow scripts: DevTools
    evaluation is not subject to its Content-Security-Policy). `media="print"` lays the
    page out as printing would, for the screenshot too.
    """
    binary = chromium()
    url = path.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="mm-chromium-") as profile:
        to_child_r, to_child_w = _pipe()
        from_child_r, from_child_w = _pipe()
        args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-breakpad",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "about:blank",
        ]
        # Chromium wants the pipe on fds 3 and 4: a tiny Python puts it there and execs it.
        log = open(Path(profile) / "stderr.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(to_child_r), str(from_child_w), binary, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**os.environ, "HOME": profile},  # crash reports and caches stay in there
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        tools = _DevTools(to_child_w, from_child_r, process)
        result = PageResult(url)
        try:
            target = tools.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            session = tools.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable", session=session)
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            if media:
                tools.call("Emulation.setEmulatedMedia", {"media": media}, session=session)
            tools.events.clear()
            tools.call("Page.navigate", {"url": url}, session=session)
            tools.wait_for("Page.loadEventFired", timeout=timeout)
            for name, expression in (evaluate or {}).items():
                answer = tools.call(
                    "Runtime.evaluate",
                    {"expression": expression, "returnByValue": True},
                    session=session,
                )
                result.values[name] = answer.get("result", {}).get("value")
            if screenshot is not None:
                shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                result.screenshot = screenshot
            if pdf:
                printed = tools.call("Page.printToPDF", {"printBackground": True}, session=session)
                result.pdf = base64.b64decode(printed["data"])
            result.console_errors, result.requests = _errors_and_requests(tools.events, url)
            with contextlib.suppress(BrowserError):
                tools.call("Browser.close", timeout=5)
        except BrowserError as exc:
            log.flush()
            tail = (Path(profile) / "stderr.log").read_bytes()[-2000:].decode(errors="replace")
            raise BrowserError(f"{exc}; chromium's stderr ends with:\n{tail}") from None
        finally:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_child_w)
            os.close(from_child_r)
            log.close()
    return result


# --- a small PNG reader -----------------------------------------------------------------------


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    channels: int  # bytes per pixel: 3 RGB, 4 RGBA
    rows: list[bytes]

    def colours(self, step: int = 4) -> set[bytes]:
        """The distinct pixel values, looking at every `step`-th pixel of every row."""
        n = self.channels
        return {row[i : i + n] for row in self.rows for i in range(0, len(row), n * step)}


def _add_bytes(a: bytes, b: bytes) -> bytes:
    """Byte-wise (a + b) mod 256 in one big-integer operation (no carries between bytes)."""
    n = len(a)
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    return (((x & low) + (y & low)) ^ ((x ^ y) & high)).to_bytes(n, "big")


def read_png(path: Path) -> Png:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path} has no IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or interlace or colour_type not in (2, 6):
        raise ValueError(f"{path}: only 8-bit non-interlaced RGB/RGBA is supported")
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prior = bytes(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up
            line = bytearray(_add_bytes(bytes(line), prior))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prior[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prior[i]
                c = prior[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prior = bytes(line)
        rows.append(prior)
    return Png(width, height, bpp, rows)
