"""Config files and the files they name, written to hurt: each is one line, exit 2.

YAML aliases that expand to billions of values are refused before anything is built (the
old loader took 2.5 GB and ended in a MemoryError); a link in the templates folder that
leads out of it is refused by `validate` and by the renderer (it included /etc/passwd);
files with personal data the commands write are 0600 unless `reports.file_mode` says
otherwise (reports were 0644).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agent.config.loading import load_config
from agent.config.model import ConfigError
from agent.mail_out.render import Renderer, TemplateError, default_templates_dir
from tests.conftest import MINIMAL, ROOT, THREE_PAIRS

MINIMAL_TEXT = MINIMAL.read_text(encoding="utf-8")


def _validate(config: Path) -> tuple[int, str, str, int]:
    """`mentormail validate` in its own process: exit code, out, err, and its own peak
    RSS in MB (from wait4, so no other child of this test run counts)."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        subprocess.Popen(
            [sys.executable, "-m", "agent.commands.cli", "validate", str(config)],
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
        ) as child,
    ):
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read(), err.read(), usage.ru_maxrss // 1024


def _one_line(code: int, err: str, *words: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _laughs(levels: int, width: int = 10) -> str:
    """Anchors each repeating the one before `width` times: width**levels addresses."""
    lines = ["x0: &a0 [ana.alt@example.org]"]
    for n in range(1, levels + 1):
        lines.append(f"x{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]")
    return "".join(f"  {line}\n" for line in lines)


def test_an_alias_bomb_in_aliases_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    bomb = MINIMAL_TEXT.replace(
        'hours: "09:00-17:00"}', 'hours: "09:00-17:00", aliases: *a9}'
    ).replace("participants:\n", "participants:\n", 1)
    config = tmp_path / "program.yaml"
    config.write_text("anchors:\n" + _laughs(9) + bomb, encoding="utf-8")  # 10**9 addresses
    code, _, err, peak_mb = _validate(config)
    line = _one_line(code, err, str(config), "YAML too large", "aliases")
    assert "line " in line
    assert peak_mb < 500, f"{peak_mb} MB"  # it is refused on a count, not by running out


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "program.yaml"
    config.write_text(
        MINIMAL_TEXT.replace("pairs:\n", "loop: &loop [1, *loop]\npairs:\n"), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert refused.value.problems == [
        f"{config} line 13, column 17: YAML too large: the alias *loop is inside the node it "
        "names (an alias repeats everything its anchor names); refused before building it: "
        "write the values out, or use fewer aliases"
    ]


def test_ordinary_anchors_still_work_for_a_thousand_people(tmp_path: Path) -> None:
    head = MINIMAL_TEXT.split("participants:")[0]
    people = [
        "  - {id: p0, name: Person 0, email: p0@example.org, role: mentor, "
        'timezone: &zone Europe/Berlin, hours: &hours "09:00-17:00"}\n'
    ]
    people += [
        f"  - {{id: p{n}, name: Person {n}, email: p{n}@example.org, "
        f"role: {'mentor' if n % 2 == 0 else 'mentee'}, timezone: *zone, hours: *hours}}\n"
        for n in range(1, 1000)
    ]
    pairs = [f"  - {{id: pair{n}, mentor: p{2 * n}, mentee: p{2 * n + 1}}}\n" for n in range(500)]
    config = tmp_path / "program.yaml"
    config.write_text(
        head + "participants:\n" + "".join(people) + "pairs:\n" + "".join(pairs),
        encoding="utf-8",
    )
    cfg = load_config(config)
    assert len(cfg.participants) == 1000 and len(cfg.pairs) == 500
    assert str(cfg.participant("p999").timezone) == "Europe/Berlin"


def test_a_config_that_is_not_utf8_or_far_too_big_is_one_line(tmp_path: Path, cli) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(MINIMAL_TEXT.replace("Ana Alvarez", "Ana Álvarez").encode("latin-1"))
    code, _, err = cli("validate", latin1)
    _one_line(code, err, str(latin1), "not UTF-8 text")
    huge = tmp_path / "huge.yaml"
    with huge.open("w", encoding="utf-8") as out:
        out.write(MINIMAL_TEXT)
        for _ in range(17 * 1024):
            out.write("#" * 1023 + "\n")
    code, _, err = cli("validate", huge)
    _one_line(code, err, str(huge), "larger than 16 MB")


# -- templates that lead out of their folder ------------------------------------------------


def _program_with_templates(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "templates"
    folder.mkdir()
    config = tmp_path / "program.yaml"
    config.write_text(
        MINIMAL_TEXT.replace(
            "  coordinator: {name: Chris Coordinator, email: coordinator@example.org}\n",
            "  coordinator: {name: Chris Coordinator, email: coordinator@example.org}\n"
            "  templates: templates\n",
        ),
        encoding="utf-8",
    )
    return config, folder


def test_a_template_linked_to_a_file_outside_is_refused_by_validate_and_tick(
    tmp_path: Path, cli
) -> None:
    config, folder = _program_with_templates(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (folder / "welcome.txt.j2").symlink_to(secret)
    for args in (("validate", config), ("tick", "--config", config, "--now", "2027-02-15T09:00")):
        code, _, err = cli(*args)
        _one_line(code, err, "program.templates: welcome.txt.j2", str(secret), "outside")
    assert not (tmp_path / "mail" / "sent").exists() or not any(
        (tmp_path / "mail" / "sent").rglob("*.*")
    )


def test_a_linked_subfolder_leading_out_is_refused(tmp_path: Path, cli) -> None:
    config, folder = _program_with_templates(tmp_path)
    (folder / "parts").symlink_to("/etc")
    code, _, err = cli("validate", config)
    _one_line(code, err, "program.templates: parts resolves to /etc", "outside")


def test_links_that_stay_inside_the_folder_are_fine(tmp_path: Path, cli) -> None:
    config, folder = _program_with_templates(tmp_path)
    source = (default_templates_dir() / "welcome.txt.j2").read_text(encoding="utf-8")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "welcome-v2.txt.j2").write_text(source, encoding="utf-8")
    (folder / "welcome.txt.j2").symlink_to(Path("drafts") / "welcome-v2.txt.j2")
    code, out, err = cli("validate", config)
    assert (code, err) == (0, ""), err
    code, out, err = cli("preview", "--config", config, "welcome", "--now", "2027-02-15T09:00")
    assert code == 0 and "Subject:" in out


def test_the_renderer_refuses_a_link_made_after_it_started(tmp_path: Path) -> None:
    """A running service has checked the folder long ago; the loader checks every load."""
    folder = tmp_path / "templates"
    folder.mkdir()
    renderer = Renderer(folder)
    outside = tmp_path / "private.txt.j2"
    outside.write_text("{% block subject %}x{% endblock %}{% block body %}secret{% endblock %}")
    (folder / "welcome.txt.j2").symlink_to(outside)
    with pytest.raises(TemplateError, match=r"resolves to .*private\.txt\.j2, outside that folder"):
        renderer.render("welcome", {})


# -- files with personal data ---------------------------------------------------------------


@pytest.fixture
def ran_program(tmp_path: Path, cli) -> Path:
    config = tmp_path / "program.yaml"
    config.write_text(THREE_PAIRS, encoding="utf-8")
    code, _, err = cli("tick", "--config", config, "--now", "2027-02-15T09:00")
    assert code == 0, err
    return config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_reports_exports_and_previews_are_written_0600(ran_program: Path, cli) -> None:
    out = ran_program.parent / "out"
    old_umask = os.umask(0o022)
    try:
        (out).mkdir()
        stale = out / "report.html"
        stale.write_text("an older report", encoding="utf-8")
        stale.chmod(0o644)
        assert cli("report", "--config", ran_program, "-o", stale)[0] == 0
        assert (
            cli("report", "--config", ran_program, "--format", "csv", "-o", out / "r.csv")[0] == 0
        )
        code, _, err = cli(
            "forget", "fay", "--config", ran_program, "--export", out / "fay.json", "--force"
        )
        assert code == 0, err
    finally:
        os.umask(old_umask)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"report.html", "r.csv", "r-weeks.csv", "fay.json"}
    assert "Fay Njeri" in (out / "fay.json").read_text(encoding="utf-8")
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


def test_previews_are_written_0600(ran_program: Path, cli) -> None:
    out = ran_program.parent / "previews"
    old_umask = os.umask(0o022)
    try:
        code, _, err = cli("preview", "--config", ran_program, "--out", out)
    finally:
        os.umask(old_umask)
    assert code == 0, err
    welcome = (out / "welcome.txt").read_text(encoding="utf-8")
    assert "Ben" in welcome or "Ana" in welcome
    assert {p.name: _mode(p) for p in out.iterdir()} == {p.name: 0o600 for p in out.iterdir()}


def test_the_config_may_widen_the_mode_and_a_bad_mode_is_one_line(
    ran_program: Path, tmp_path: Path, cli
) -> None:
    text = ran_program.read_text(encoding="utf-8")
    ran_program.write_text(text + 'reports: {file_mode: "0640"}\n', encoding="utf-8")
    report = tmp_path / "report.json"
    assert cli("report", "--config", ran_program, "--format", "json", "-o", report)[0] == 0
    assert _mode(report) == 0o640 and json.loads(report.read_text(encoding="utf-8"))["pairs"]
    for mode, problem in (
        ("0640", 'reports.file_mode: 416: write the mode in quotes, in octal, like "0640"'),
        ('"0755"', "reports.file_mode: '0755': report files are not executable"),
        ('"0044"', "reports.file_mode: '0044': the owner must keep read and write"),
    ):
        ran_program.write_text(text + f"reports: {{file_mode: {mode}}}\n", encoding="utf-8")
        code, _, err = cli("validate", ran_program)
        key, rest = problem.split(": ", 1)  # the line named is the `reports:` one, added last
        line = text.count("\n") + 1
        assert _one_line(code, err).startswith(f"{key}, line {line}: {rest}")


def test_a_report_that_cannot_be_written_is_one_line(ran_program: Path, cli) -> None:
    blocker = ran_program.parent / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    code, _, err = cli("report", "--config", ran_program, "-o", blocker / "report.html")
    _one_line(code, err, "cannot write the report to", str(blocker / "report.html"))
