"""Tests for agent.mail_out.render: the email templates, the renderer and text -> HTML."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from agent.mail_out.render import (
    RenderedEmail,
    Renderer,
    TemplateError,
    default_templates_dir,
    first_name,
    format_date,
    format_time,
    text_to_html,
)
from tests.template_contexts import (
    ALL_TEMPLATES,
    MEETING,
    PARTICIPANT_TEMPLATES,
    VIDEO_LINK,
    context_for,
)

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _blocks(text: str) -> list[str]:
    """The text's paragraphs (blank-line separated), stripped."""
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]


# -- every template ------------------------------------------------------------


def test_names_are_exactly_the_email_templates(renderer: Renderer) -> None:
    assert renderer.names() == sorted(ALL_TEMPLATES)


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_renders_with_sample_context(renderer: Renderer, name: str) -> None:
    out = renderer.render(name, context_for(name))
    assert isinstance(out, RenderedEmail)
    assert out.subject and out.subject == " ".join(out.subject.split())
    assert "\n" not in out.subject and "\r" not in out.subject
    assert out.text.endswith("\n") and not out.text.endswith("\n\n")
    assert "\n\n\n" not in out.text
    assert "None" not in out.text  # an optional value leaking as "None"
    assert out.text.startswith("Hi ")
    html = out.html.strip()
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    for tag in ("<html", "<head>", "<title>", "<body", "</body>"):
        assert tag in html
    assert "<style" not in html and "<link" not in html and "<script" not in html
    assert "max-width:600px" in html
    assert context_for(name)["program"]["name"] in html


@pytest.mark.parametrize("name", PARTICIPANT_TEMPLATES)
def test_participant_emails_say_how_to_answer(renderer: Renderer, name: str) -> None:
    text = renderer.render(name, context_for(name)).text
    body = text.split("\n-- \n")[0]
    assert "-- \n" in text  # footer after a proper signature delimiter
    # the how-to-answer paragraph comes right before the sign-off
    assert _blocks(body)[-2].startswith("Just reply to this email")


@pytest.mark.parametrize("name", PARTICIPANT_TEMPLATES)
def test_participant_templates_work_without_meeting_or_goals(renderer: Renderer, name: str) -> None:
    ctx = context_for(name)
    ctx["pair"]["goals"] = []
    if name != "invitation":  # an invitation needs a meeting
        ctx["meeting"] = None
    out = renderer.render(name, ctx)
    assert "None" not in out.text
    assert "Goals so far" not in out.text


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_script_in_names_and_text_is_escaped(renderer: Renderer, name: str) -> None:
    ctx = context_for(name)
    for key in ("recipient", "other", "mentor", "mentee"):
        if isinstance(ctx.get(key), dict):
            ctx[key]["name"] = f"Eve {SCRIPT}"
            ctx[key]["first_name"] = f"Eve{SCRIPT}"
    if "message" in ctx:
        ctx["message"]["text"] = f"hello {SCRIPT} bye"
        ctx["message"]["from_name"] = f"Eve {SCRIPT}"
    if "digest" in ctx:
        ctx["digest"]["pairs"][0]["mentor"] = SCRIPT
        ctx["digest"]["needs_human"][0]["text"] = SCRIPT
    if "progress" in ctx:
        ctx["progress"][0]["text"] = SCRIPT
    out = renderer.render(name, ctx)
    assert SCRIPT in out.text  # text/plain is not escaped
    assert "<script" not in out.html
    assert "&lt;script&gt;" in out.html


@pytest.mark.parametrize(
    "name", ["welcome", "agreement", "agreement_reminder", "invitation", "nudge"]
)
def test_video_link_is_a_link(renderer: Renderer, name: str) -> None:
    out = renderer.render(name, context_for(name))
    assert VIDEO_LINK in out.text
    assert f'<a href="{VIDEO_LINK}"' in out.html


def test_coordinator_link_in_footer(renderer: Renderer) -> None:
    html = renderer.render("welcome", context_for("welcome")).html
    assert 'href="mailto:priya.raman@bridges.example.org"' in html


# -- content of particular emails -------------------------------------------------


def test_agreement_has_separate_confirmation_line(renderer: Renderer) -> None:
    ctx = context_for("agreement")
    out = renderer.render("agreement", ctx)
    assert "Reply with **I agree** to confirm." in _blocks(out.text)
    assert '<p style="margin:0 0 16px;">Reply with <strong>I agree</strong> to confirm.</p>' in (
        out.html
    )
    for topic in ("Goals:", "Cadence:", "Channels:", "Response times:", "Confidentiality:"):
        assert topic in out.text
    assert "every 2 weeks for 45 minutes" in out.text
    assert ctx["cadence"]["agreement"]["confidentiality"] in out.text


def test_agreement_uses_configured_phrase_and_asks_mentee_for_goals(renderer: Renderer) -> None:
    ctx = context_for("agreement")
    ctx["cadence"]["agreement"]["phrase"] = "Count me in"
    ctx["pair"]["goals"] = []
    out = renderer.render("agreement", ctx)
    assert "Reply with **Count me in** to confirm." in _blocks(out.text)
    assert "2–3 goals" in out.text
    assert "one per line" in out.text


def test_agreement_for_mentor_asks_to_confirm_goals(renderer: Renderer) -> None:
    ctx = context_for("agreement")
    ctx["recipient"], ctx["other"] = ctx["mentor"], ctx["mentee"]
    out = renderer.render("agreement", ctx)
    assert out.text.startswith("Hi Daniel,")
    assert "you, as mentor, confirm them" in out.text
    assert "Ana Souza" in out.subject


@pytest.mark.parametrize(
    ("agreed", "sentence"),
    [
        (True, "Daniel has already agreed, so your reply is the last step"),
        (False, "Daniel hasn't confirmed yet either."),
    ],
)
def test_agreement_reminder_says_whether_other_agreed(
    renderer: Renderer, agreed: bool, sentence: str
) -> None:
    ctx = context_for("agreement_reminder")
    ctx["other_agreed"] = agreed
    out = renderer.render("agreement_reminder", ctx)
    assert sentence in out.text
    assert "Reply with **I agree** to confirm." in _blocks(out.text)


def test_welcome_introduces_the_other_person(renderer: Renderer) -> None:
    text = renderer.render("welcome", context_for("welcome")).text
    for fact in (
        "Daniel Okafor",
        "mentor",
        "Africa/Lagos",
        "5 hours ahead of you",
        "15:05, Tuesday",
    ):
        assert fact in text
    assert "Mon–Thu 09:00–17:00" in text
    assert "backup channel" in text and "shared notes doc" in text


def test_invitation_shows_both_times(renderer: Renderer) -> None:
    text = renderer.render("invitation", context_for("invitation")).text
    assert MEETING["when"] in text and MEETING["other_when"] in text
    assert MEETING["backup_channel"] in text


@pytest.mark.parametrize(
    ("change", "subject", "line"),
    [
        (
            {
                "kind": "moved",
                "original": "Tuesday 16 March 2027 at 09:00",
                "new": "Thursday 18 March 2027 at 10:00",
                "by": "Daniel",
            },
            "meeting of Tuesday 16 March 2027 at 09:00 moved",
            "At Daniel's request, the meeting of Tuesday 16 March 2027 at 09:00 moves to "
            "Thursday 18 March 2027 at 10:00 (your time).",
        ),
        (
            {
                "kind": "skipped",
                "original": "Tuesday 16 March 2027 at 09:00",
                "new": "",
                "by": "you",
            },
            "meeting of Tuesday 16 March 2027 at 09:00 cancelled",
            "As you asked, the meeting of Tuesday 16 March 2027 at 09:00 is cancelled.",
        ),
    ],
)
def test_updated_invitation_says_what_changed(
    renderer: Renderer, change: dict[str, str], subject: str, line: str
) -> None:
    ctx = context_for("invitation")
    ctx["meeting"] = {**ctx["meeting"], "change": change}
    email = renderer.render("invitation", ctx)
    assert email.subject.startswith("Updated invitation") and subject in email.subject
    assert line in " ".join(email.text.split())
    assert "are booked" not in email.text


def test_invitation_from_a_calendar_that_invites_itself_mentions_no_attachment(
    renderer: Renderer,
) -> None:
    ctx = context_for("invitation")
    ctx["invitation_attached"] = False
    text = " ".join(renderer.render("invitation", ctx).text.split())
    assert "attached" not in text
    assert f"comes separately from {ctx['program']['sender']['email']}" in text
    ctx["meeting"] = {**ctx["meeting"], "change": {"kind": "skipped", "original": "x", "by": ""}}
    text = " ".join(renderer.render("invitation", ctx).text.split())
    assert "attached" not in text and "invitation has been updated" in text


def test_follow_up_lists_goals_numbered_and_asks_rating(renderer: Renderer) -> None:
    text = renderer.render("follow_up", context_for("follow_up")).text
    assert "1. Prepare for a move into a team-lead role" in text
    assert "3. Build a network in the data engineering community" in text
    assert "1 (not useful) to 5 (very useful)" in text


def test_closure_lists_logged_progress(renderer: Renderer) -> None:
    out = renderer.render("closure", context_for("closure"))
    # a multi-line progress text becomes one list item
    assert "- 16 March 2027, Ana Souza: Drafted a 30-60-90 day plan for the team-lead role." in (
        out.text
    )
    assert "met 6 times" in out.text
    assert out.html.count("<li") == 6  # 3 goals + 3 progress items


def test_coordinator_reply_quotes_the_message(renderer: Renderer) -> None:
    ctx = context_for("coordinator_reply")
    out = renderer.render("coordinator_reply", ctx)
    assert "> Could we talk about it privately? See https://example.net/notes." in out.text
    assert "<blockquote" in out.html
    assert 'href="https://example.net/notes"' in out.html  # trailing "." not in the link
    assert "p-01" in out.subject and ctx["reason"] in out.text


def test_coordinator_reply_without_pair(renderer: Renderer) -> None:
    ctx = context_for("coordinator_reply")
    ctx.update(pair=None, mentor=None, mentee=None)
    out = renderer.render("coordinator_reply", ctx)
    assert "pair" not in out.subject
    assert "none matched" in out.text


def test_digest_puts_at_risk_pairs_first(renderer: Renderer) -> None:
    out = renderer.render("digest", context_for("digest"))
    assert "1 pair at risk" in out.subject
    assert out.text.index("At risk") < out.text.index("All pairs")
    assert "no reply for 21 days; last meeting rated 2" in out.text
    assert "> Can I switch to a different mentor?" in out.text
    assert "Meetings held: 7 of 9 planned" in out.text
    assert "3 messages were quarantined" in out.text


# -- errors, sandbox, header safety -----------------------------------------------


def test_missing_key_names_template_file_and_line(renderer: Renderer) -> None:
    ctx = context_for("invitation")
    del ctx["meeting"]
    with pytest.raises(TemplateError) as info:
        renderer.render("invitation", ctx)
    err = info.value
    assert re.search(r"invitation\.txt\.j2 line \d+: 'meeting' is undefined", str(err))
    assert err.email == "invitation" and err.lineno
    assert err.filename and err.filename.endswith("invitation.txt.j2")


def test_missing_key_in_base_names_base(renderer: Renderer) -> None:
    ctx = context_for("check_in")
    del ctx["program"]["coordinator"]
    with pytest.raises(TemplateError, match=r"'check_in'.*_base\.txt\.j2 line \d+"):
        renderer.render("check_in", ctx)


def test_unknown_template(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match="no template nope"):
        renderer.render("nope", {})
    with pytest.raises(TemplateError, match="not an email template name"):
        renderer.render("../etc/passwd", {})


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "expr",
    [
        "''.__class__.__mro__",
        "program.__class__.__init__.__globals__",
        "cycler.__init__.__globals__",
        "pair.goals.append('x')",
        "program.update(name='x')",
    ],
)
def test_sandbox_blocks_internals_and_mutation(tmp_path: Path, expr: str) -> None:
    _write(
        tmp_path,
        "evil.txt.j2",
        "{% block subject %}x{% endblock %}{% block body %}{{ " + expr + " }}{% endblock %}",
    )
    ctx = context_for("welcome")
    with pytest.raises(TemplateError, match=r"evil\.txt\.j2 line 1: .*unsafe"):
        Renderer(tmp_path).render("evil", ctx)
    assert len(ctx["pair"]["goals"]) == 3


def test_syntax_error_is_a_template_error(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "welcome.txt.j2",
        "{% block subject %}x{% endblock %}\n{% block body %}\n{% if %}\n{% endblock %}",
    )
    with pytest.raises(TemplateError, match=r"welcome\.txt\.j2 line 3"):
        Renderer(tmp_path).render("welcome", context_for("welcome"))


def test_template_without_subject_block(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "welcome.txt.j2",
        '{% extends "_base.txt.j2" %}{% block body %}Hello{% endblock %}',
    )
    with pytest.raises(TemplateError, match=re.escape("no {% block subject %}")):
        Renderer(tmp_path).render("welcome", context_for("welcome"))


@pytest.mark.parametrize("sep", ["\r\n", "\n", "\r", "\u2028", "\x85", "\x0b"])
def test_line_breaks_in_subject_variables_cannot_inject_headers(
    renderer: Renderer, sep: str
) -> None:
    ctx = context_for("welcome")
    ctx["other"]["name"] = f"Daniel{sep}Bcc: victim@example.com{sep}{sep}body"
    subject = renderer.render("welcome", ctx).subject
    assert not any(c in subject for c in "\r\n\x0b\x0c\x85\u2028\u2029")
    msg = EmailMessage()
    msg["Subject"] = subject  # raises on CR/LF
    msg["To"] = "ana@example.net"
    msg.set_content("hi")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert "victim@example.com" in str(parsed["Subject"])


# -- overrides and export ---------------------------------------------------------


def test_override_dir_replaces_one_template_only(tmp_path: Path, renderer: Renderer) -> None:
    _write(
        tmp_path,
        "welcome.txt.j2",
        '{% extends "_base.txt.j2" %}{% block subject %}Hello from {{ program.name }}{% endblock %}'
        "{% block body %}Custom welcome for {{ recipient|first_name }}.{% endblock %}",
    )
    custom = Renderer(tmp_path)
    out = custom.render("welcome", context_for("welcome"))
    assert out.subject == "Hello from Bridges Mentoring 2027"
    assert "Custom welcome for Ana." in out.text
    assert "Warm wishes," in out.text  # the default base still applies
    for name in ALL_TEMPLATES:
        if name != "welcome":
            assert custom.render(name, context_for(name)) == renderer.render(
                name, context_for(name)
            )
    assert custom.names() == renderer.names()


def test_standalone_override_uses_only_body_block(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "nudge.txt.j2",
        "{% block subject %}Hi{% endblock %}\n{% block body %}Just the body.{% endblock %}\n",
    )
    out = Renderer(tmp_path).render("nudge", context_for("nudge"))
    assert out.text == "Just the body.\n"
    assert out.subject == "Hi"


def test_html_override_changes_only_html(tmp_path: Path, renderer: Renderer) -> None:
    _write(
        tmp_path,
        "welcome.html.j2",
        "<!DOCTYPE html><html><body><h1>{{ other.name }}</h1>{{ body_html }}</body></html>",
    )
    ctx = context_for("welcome")
    ctx["other"]["name"] = SCRIPT
    custom = Renderer(tmp_path).render("welcome", ctx)
    default = renderer.render("welcome", ctx)
    assert custom.text == default.text and custom.subject == default.subject
    assert custom.html.startswith("<!DOCTYPE html><html><body><h1>&lt;script&gt;")
    assert f'<a href="{VIDEO_LINK}"' in custom.html  # body_html is not double-escaped
    assert "max-width:600px" not in custom.html
    # other emails keep the default layout
    assert (
        "max-width:600px" in Renderer(tmp_path).render("agreement", context_for("agreement")).html
    )


def test_missing_override_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        Renderer(tmp_path / "missing")


def test_export_writes_all_and_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "program" / "templates"
    defaults = sorted(p.name for p in default_templates_dir().glob("*.j2"))
    written = Renderer().export(dest)
    assert sorted(p.name for p in written) == defaults
    assert all(p.read_text() == (default_templates_dir() / p.name).read_text() for p in written)

    (dest / "welcome.txt.j2").write_text("mine")
    (dest / "digest.txt.j2").unlink()
    again = Renderer().export(dest)
    assert [p.name for p in again] == ["digest.txt.j2"]
    assert (dest / "welcome.txt.j2").read_text() == "mine"

    # the exported folder works as an override dir
    out = Renderer(dest).render("agreement", context_for("agreement"))
    assert out == Renderer().render("agreement", context_for("agreement"))


# -- filters and text -> HTML -----------------------------------------------------


def test_filters() -> None:
    from datetime import date, datetime, time
    from zoneinfo import ZoneInfo

    assert format_date(date(2027, 3, 2)) == "Tuesday 2 March 2027"
    assert format_date(datetime(2027, 3, 2, 23, tzinfo=ZoneInfo("UTC"))) == "Tuesday 2 March 2027"
    assert format_date("2027-03-02") == "Tuesday 2 March 2027"
    assert format_date("next week") == "next week"
    assert format_time(datetime(2027, 3, 2, 15, 0, tzinfo=ZoneInfo("UTC"))) == "15:00"
    assert format_time(time(9, 5)) == "09:05"
    assert first_name({"first_name": "Ana", "name": "Ana Souza"}) == "Ana"
    assert first_name({"first_name": "", "name": "Ana Souza"}) == "Ana"
    assert first_name("  ") == ""
    with pytest.raises(TypeError):
        format_date(3)  # type: ignore[arg-type]


def test_text_to_html_structures() -> None:
    html = str(
        text_to_html(
            "Intro line\nsecond line\n\nTopics:\n- one\n- two\n  continued\n\n"
            "3. three\n4. four\n\n> quoted <b>\n>\n> more\n\nMail a@b.org or see https://x.org/a_(b)."
        )
    )
    assert '<p style="margin:0 0 16px;">Intro line<br>\nsecond line</p>' in html
    assert '<p style="margin:0 0 4px;">Topics:</p>' in html  # stays with its list
    assert '<li style="margin:0 0 4px;">two<br>\ncontinued</li>' in html
    assert '<ol start="3"' in html
    assert "<blockquote" in html and "quoted &lt;b&gt;" in html
    assert '<a href="mailto:a@b.org"' in html
    assert '<a href="https://x.org/a_(b)"' in html and "</a>.</p>" in html


def test_text_to_html_never_links_other_schemes() -> None:
    html = str(text_to_html('javascript:alert(1) "https://a.org/" onmouseover="x"'))
    assert "javascript:alert" in html and 'href="javascript' not in html
    assert '<a href="https://a.org/"' in html
    assert 'onmouseover="x"' not in html  # quotes are escaped


def test_deeply_nested_quotes_do_not_recurse_forever() -> None:
    html = str(text_to_html(">" * 5000 + " deep"))
    assert "deep" in html


# -- changes to the program mid-flight and at-risk nudges -------------------------------


@pytest.mark.parametrize(
    ("kind", "subject", "line"),
    [
        (
            "cadence",
            "new schedule from Tuesday 30 March 2027 at 09:00",
            "From Tuesday 30 March 2027 at 09:00, your meetings with Daniel are every 2 weeks",
        ),
        (
            "ended",
            "this series ends after Tuesday 16 March 2027 at 09:00",
            "From Tuesday 30 March 2027 at 09:00 on, a new series with the new schedule takes "
            "its place. Its invitation comes in a separate email.",
        ),
        ("address", "Invitation: mentoring with", "this time to your new address"),
        ("details", "new video link", f"have a new video link: {VIDEO_LINK}."),
    ],
)
def test_updated_invitation_for_program_changes(
    renderer: Renderer, kind: str, subject: str, line: str
) -> None:
    ctx = context_for("invitation")
    original = (
        "Tuesday 16 March 2027 at 09:00" if kind == "ended" else "Tuesday 30 March 2027 at 09:00"
    )
    ctx["meeting"] = {
        **ctx["meeting"],
        "change": {
            "kind": kind,
            "original": original,
            "new": "Tuesday 30 March 2027 at 09:00",
            "by": "",
        },
    }
    email = renderer.render("invitation", ctx)
    assert subject in email.subject
    text = " ".join(email.text.split())
    assert line in text
    assert ("When:" in email.text) == (kind != "ended")  # the ended series is not described


@pytest.mark.parametrize("name", ["pair_removed", "farewell"])
def test_goodbyes_are_kind_and_point_to_the_coordinator(renderer: Renderer, name: str) -> None:
    ctx = context_for(name)
    text = " ".join(renderer.render(name, ctx).text.split())
    assert "Thank you" in text and "There's nothing you need to do." in text
    assert "Priya Raman, who coordinates the program, will be in touch" in text
    assert "removes them from your calendar" in text
    assert "pause or leave the program" not in text  # they are no longer in it
    ctx["meetings_cancelled"] = False
    assert "cancelled" not in renderer.render(name, ctx).text


def test_partner_changed_introduces_the_new_person(renderer: Renderer) -> None:
    ctx = context_for("partner_changed")
    out = renderer.render("partner_changed", ctx)
    text = " ".join(out.text.split())
    assert out.subject == "Bridges Mentoring 2027: meet your new mentor, Daniel Okafor"
    assert "Grace Lee is no longer your mentor, and Daniel Okafor is your new mentor" in text
    assert "Your meetings with Grace are cancelled." in text
    assert "Africa/Lagos" in text and "Your goals and what you've already agreed stay" in text
    del ctx["previous"]  # as `mentormail preview` renders it
    assert "no longer your mentor" not in renderer.render("partner_changed", ctx).text


@pytest.mark.parametrize(
    ("name", "fact"),
    [
        ("progress_check", "It's been 29 days since I last heard how your mentoring with Daniel"),
        ("meeting_time_check", "the last 2 meetings with Daniel were declined"),
        ("rating_follow_up", "Daniel doesn't see your rating or this email"),
    ],
)
def test_at_risk_nudges(renderer: Renderer, name: str, fact: str) -> None:
    ctx = context_for(name)
    assert fact in " ".join(renderer.render(name, ctx).text.split())
    for key in ("days", "declined", "rating"):
        ctx.pop(key, None)  # `mentormail preview` has no such details
    assert renderer.render(name, ctx).text
