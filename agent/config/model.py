"""The config file's models: what each section may hold, typed and checked per field.

`agent.config.loading` reads a file into them and adds the checks across sections.
Relative paths in the file are resolved against the file's own folder (`Config.resolve`).

No `from __future__ import annotations` here, unlike elsewhere: pydantic evaluates every
field annotation when it builds a model, and evaluating them from strings costs a few
milliseconds of every start of `mentormail` (bench/startup.py).
"""

import os
import re
from collections.abc import Iterable
from datetime import date, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from agent.config.addresses import mailbox_key
from agent.config.names import greeting_name
from agent.meetings.timefmt import (
    WeeklyHours,
    format_duration,
    format_hours,
    parse_duration,
    parse_hours,
    parse_time,
    parse_weekday,
)


class ConfigError(Exception):
    """A config file that cannot be used. `problems` are `key.path: message` lines."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long
        raise ValueError(f"unknown time zone {value!r}; {_zone_hint(str(value))}") from None


def _zone_hint(name: str) -> str:
    """'did you mean' for a misspelt zone (looked up only when one is wrong)."""
    from difflib import get_close_matches
    from zoneinfo import available_timezones

    from agent.meetings.zone_names import zone_advice

    if advice := zone_advice(name):  # GMT+5: not a name, and not what was meant either
        return advice
    zones = sorted(z for z in available_timezones() if zone_advice(z) is None)
    by_lower = {z.lower(): z for z in zones}
    close = [by_lower[name.lower()]] if name.lower() in by_lower else []
    close = close or get_close_matches(name, zones, n=3, cutoff=0.75)
    if not close:
        return "use an IANA name like Europe/Berlin"
    return f"did you mean {' or '.join(close)}?"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[smhdw])+$"}),
]
TimeOfDay = Annotated[
    time,
    BeforeValidator(parse_time),
    PlainSerializer(lambda t: f"{t:%H:%M}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$"}),
]
Zone = Annotated[
    ZoneInfo,
    BeforeValidator(_zone),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "IANA time zone"}),
]
Hours = Annotated[
    WeeklyHours,
    BeforeValidator(parse_hours),
    PlainSerializer(format_hours, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["09:00-17:00", "Mon-Thu 09:00-17:00"]}),
]


def _daily_window(value: object) -> tuple[time, time]:
    """`08:00-20:00` -> (08:00, 20:00): a window of the day, without weekdays."""
    if isinstance(value, tuple):
        return value  # type: ignore[return-value]
    text = str(value).strip()
    if re.search(r"[A-Za-z]", text):
        raise ValueError(
            f"{value!r}: give only the times, like 08:00-20:00; the days are each person's "
            "working days (a participant's own send_window may name days)"
        )
    return next(iter(parse_hours(text).values()))


DailyWindow = Annotated[
    tuple[time, time],
    BeforeValidator(_daily_window),
    PlainSerializer(lambda w: f"{w[0]:%H:%M}-{w[1]:%H:%M}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}$"}),
]


def _address(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+", text):
        raise ValueError(f"{value!r} is not an email address")
    return text


_LANGUAGE_RE = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?", re.IGNORECASE)


def _language(value: object) -> str:
    """A BCP 47 tag of language[-Script][-REGION], in its usual case: `pt-br` -> `pt-BR`."""
    match = _LANGUAGE_RE.fullmatch(str(value).strip().replace("_", "-"))
    if not match:
        raise ValueError(f"{value!r} is not a language tag; write it like en, de, pt-BR or zh-Hans")
    language, script, region = match.groups()
    parts = [language.lower(), script.title() if script else "", region.upper() if region else ""]
    return "-".join(p for p in parts if p)


Language = Annotated[
    str,
    BeforeValidator(_language),
    WithJsonSchema({"type": "string", "description": "BCP 47", "examples": ["de", "pt-BR"]}),
]


# Deliberately not pydantic's EmailStr: it rejects special-use domains (.test, .local)
# that organisations and test beds use for real.
EmailStr = Annotated[
    str, BeforeValidator(_address), WithJsonSchema({"type": "string", "format": "email"})
]
Weekday = Annotated[int, BeforeValidator(parse_weekday), WithJsonSchema({"type": "string"})]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]
AuthservId = Annotated[str, Field(pattern=r"^[^\s;()\"=]+$", max_length=255)]
AuthservIds = Annotated[
    tuple[AuthservId, ...],
    BeforeValidator(lambda v: (v,) if isinstance(v, str) else v),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ],
            "examples": ["mx.google.com", ["mx.example.org", "mx2.example.org"]],
        }
    ),
]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Person(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if re.search(r"[\r\n\x00]", value):
            raise ValueError("must be a single line")
        return value.strip()


class Coordinator(Person):
    language: Language | None = None  # the language of their emails; unset: the program's


class Program(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: Zone
    start: date
    end: date
    sender: Person
    coordinator: Coordinator
    language: Language = "en"  # the default language of every email (docs/languages.md)
    templates: Path | None = None  # a folder whose templates override the defaults
    allow_multiple_pairs: bool = False  # may one person be in several pairs?

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "program"


class Onboarding(Strict):
    before_start: Duration = timedelta(days=14)  # welcome goes out this long before the start


class Agreement(Strict):
    reminder_after: Duration = timedelta(days=3)
    max_reminders: Annotated[int, Field(ge=0, le=10)] = 2
    # The older name of `at_risk.no_agreement_after` (which it sets); give one or the other.
    escalate_after: Duration | None = None
    response_time: str = "within two working days"
    confidentiality: str = (
        "What we talk about stays between the two of us, unless we both agree otherwise "
        "or someone's safety is at risk."
    )
    phrase: str = "I agree"


class Meetings(Strict):
    every: Duration = timedelta(weeks=1)
    duration: Duration = timedelta(minutes=45)
    preferred_days: list[Weekday] = []
    video_link: str = "https://meet.jit.si/{program}-{pair}"  # {program} and {pair} are filled in
    backup_channel: str = "a phone call or a chat message"
    min_notice: Duration = timedelta(days=2)  # first meeting no sooner than this after booking
    # How many meeting times to offer the pair by email; they reply with the number they
    # prefer. 1 books the best time straight away.
    offer: Annotated[int, Field(ge=1, le=5)] = 1

    @field_validator("every")
    @classmethod
    def _whole_weeks(cls, value: timedelta) -> timedelta:
        if value.days % 7 or value.seconds or value.days == 0:
            raise ValueError("meetings repeat in whole weeks; write it like 1w or 2w")
        return value

    @field_validator("duration")
    @classmethod
    def _sensible_length(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=10) <= value <= timedelta(hours=4):
            raise ValueError("a meeting lasts between 10m and 4h")
        return value


class FollowUp(Strict):
    enabled: bool = True
    after: Duration = timedelta(hours=2)  # after the end of each meeting


class CheckIn(Strict):
    enabled: bool = True
    every: Duration = timedelta(weeks=4)


class Nudge(Strict):
    quiet_after: Duration = timedelta(days=14)


class Pause(Strict):
    # an open-ended pause ("I need a break") is checked on by email this long after it began
    check_after: Duration = timedelta(weeks=3)


class Closure(Strict):
    before_end: Duration | None = (
        None  # send closure this long before the end; default: on the end day
    )


class Digest(Strict):
    enabled: bool = True
    day: Weekday = 0
    time: TimeOfDay = time(8, 0)


class AtRisk(Strict):
    """When a pair counts as at risk: each rule, when it fires, puts the pair at the top of the
    digest with its reason, sends the pair a kind nudge where one fits, and tells the
    coordinator, once per occurrence. `null` switches a rule off. (A pair nobody has heard
    from is covered by `cadence.nudge.quiet_after`.)"""

    no_agreement_after: Duration | None = timedelta(days=7)  # agreement pending this long
    # this many meetings in a row declined in the calendar
    declined_in_a_row: Annotated[int, Field(ge=1, le=10)] | None = 2
    no_progress_after: Duration | None = timedelta(weeks=4)  # no progress, goals or rating logged
    low_rating: Annotated[int, Field(ge=1, le=4)] | None = 2  # a rating (1-5) at or below this

    @field_validator("no_agreement_after", "no_progress_after")
    @classmethod
    def _at_least_a_day(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(days=1):
            raise ValueError("must be at least 1d (or null to switch the rule off)")
        return value

    @field_validator("declined_in_a_row", mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10
        ):
            raise ValueError(
                f"{value!r} is not a number of meetings from 1 to 10 (or null to switch it off)"
            )
        return value

    @field_validator("low_rating", mode="before")
    @classmethod
    def _rating(cls, value: object) -> object:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4
        ):
            raise ValueError(
                f"{value!r} is not a rating from 1 to 4: ratings go from 1 to 5, and a rating "
                "at or below this counts (null switches the rule off)"
            )
        return value


class Replies(Strict):
    """How people who write hear back (agent.pairs.hearing_back)."""

    # each participant's reply gets one short email: what was done, or that it went to the
    # coordinator (never to an auto-reply, a bounce or a calendar answer)
    acknowledge: bool = True
    # notices a day to the coordinator with the text of mail from outside the program
    # (not bulk mail or auto-replies); 0: they are only counted in the digest
    strangers_per_day: Annotated[int, Field(ge=0, le=100)] = 10


class Cadence(Strict):
    onboarding: Onboarding = Onboarding()
    agreement: Agreement = Agreement()
    meetings: Meetings = Meetings()
    follow_up: FollowUp = FollowUp()
    check_in: CheckIn = CheckIn()
    nudge: Nudge = Nudge()
    pause: Pause = Pause()
    closure: Closure = Closure()
    digest: Digest = Digest()
    replies: Replies = Replies()
    # emails to a person go out inside this window of their own clock, on their working days
    # (the coordinator's: in the program's zone, Monday to Friday); answers to an email do not
    # wait; null: at any hour of any day
    send_window: DailyWindow | None = Field(
        default=(time(8, 0), time(20, 0)), json_schema_extra={"default": "08:00-20:00"}
    )
    # no reminder to a person within this span of another email to them; null: no spacing
    spacing: Duration | None = timedelta(days=1)


class CalendarAccess(Strict):
    """A participant's own calendar, where the config gives access (CalDAV for now).

    Used for free/busy when looking for a meeting time and, with `write: true`,
    to put the series straight into that calendar as well as sending invitations.
    """

    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    username: str | None = None
    password_env: str | None = None  # the name of an environment variable, never the password
    password_file: Path | None = None
    write: bool = False


def _blank_is_none(value: object) -> object:
    """An empty cell (a CSV column left blank) is no value."""
    return None if isinstance(value, str) and not value.strip() else value


class Participant(Strict):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    role: Literal["mentor", "mentee"]
    timezone: Zone
    hours: Hours = Field(default_factory=lambda: parse_hours("09:00-17:00"))
    # when their emails may go out, on their clock; unset: cadence.send_window on `hours` days
    send_window: Hours | None = None
    aliases: list[EmailStr] = []  # other addresses this person writes from
    calendar: CalendarAccess | None = None  # free/busy (and optionally writing) access
    # What emails call them ("Rachel" for "Dr Rachel O'Neill"); unset: guessed from the
    # name (agent.config.names).
    short_name: Annotated[str | None, BeforeValidator(_blank_is_none), Field(max_length=100)] = None
    language: Language | None = None  # the language of their emails; unset: the program's
    # What `mentormail match` reads for people without a pair (agent.pairs.matching):
    goals: list[Annotated[str, Field(max_length=500)]] = []  # what a mentee wants to work on
    experience: list[Annotated[str, Field(max_length=500)]] = []  # what a mentor can help with
    interests: list[Annotated[str, Field(max_length=500)]] = []  # interests and values
    languages: list[Annotated[str, Field(min_length=2, max_length=35)]] = []  # "en", "pt-BR"
    capacity: Annotated[int, Field(ge=1, le=20)] = 1  # mentees a mentor takes at once
    # facts about them that the coordinator's matching rules name ({department: sales}) ...
    attributes: dict[Identifier, Annotated[str, Field(max_length=200)]] = {}
    # ... and what a partner must have ({gender: woman}, asked for by this person)
    wants: dict[Identifier, Annotated[str, Field(max_length=200)]] = {}

    @field_validator("name", "short_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else Person._one_line(value)

    @property
    def addresses(self) -> set[str]:
        """The configured addresses, lower-cased (compare a sender with `writes_from`)."""
        return {self.email.lower(), *(a.lower() for a in self.aliases)}

    @cached_property
    def mailboxes(self) -> frozenset[str]:
        """Every configured address as its mailbox key (agent.config.addresses)."""
        return frozenset(mailbox_key(a) for a in [self.email, *self.aliases])

    def writes_from(self, address: str) -> bool:
        """Whether mail from `address` is this person's: the same mailbox as their email
        or an alias, however the provider lets them spell it (sub-address, Gmail dots)."""
        return mailbox_key(address) in self.mailboxes

    @property
    def first_name(self) -> str:
        """The name to greet them by: `short_name`, else a guess from `name`."""
        return greeting_name(self.name, self.short_name)


class MatchWeights(Strict):
    """How much each kind of likeness counts in a proposed pair's score (0 ignores it)."""

    goals: Annotated[float, Field(ge=0, le=10)] = 3.0  # the mentee's goals, the mentor's experience
    interests: Annotated[float, Field(ge=0, le=10)] = 1.0  # interests and values, both ways
    language: Annotated[float, Field(ge=0, le=10)] = 1.0  # a language both speak


class Matching(Strict):
    """`mentormail match`: rules for proposing pairs among people without one."""

    weights: MatchWeights = MatchWeights()
    # attributes a pair must not share, e.g. [department]: nobody mentors their own team
    not_same: list[Identifier] = []
    exclude: list[Annotated[list[Identifier], Field(min_length=2, max_length=2)]] = []  # [a, b]


class Pair(Strict):
    id: Identifier
    mentor: str
    mentee: str
    goals: list[str] = []


class ConnectorOptions(BaseModel):
    """`type:` picks the connector; the rest is checked by that connector's own Options."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Storage(Strict):
    path: Path = Path("state.json")
    # tinydb: one JSON file, rewritten whole on each write (up to a few hundred pairs);
    # sqlite: one SQLite database, written by the page (large programs); postgresql: a
    # PostgreSQL database, whose DSN is in the environment variable dsn_env names (path
    # then only places the local files kept next to a state). Unset: sqlite when the path
    # ends in .db, .sqlite or .sqlite3, else tinydb.
    type: Literal["tinydb", "sqlite", "postgresql"] | None = None
    # With type postgresql: the environment variable holding the database's DSN
    # (postgresql://user:password@host/dbname), never written in the config file.
    dsn_env: str = "MENTORMAIL_DATABASE_URL"
    # Daily copies of the state file as it was before the day's first write, newest kept.
    backups: int = Field(7, ge=0, le=366)
    # Raw copies of received mail (maildir processed/ and quarantine/) and the reply texts
    # in the state are deleted this long after the message came in; null keeps them.
    keep_messages: Duration | None = None

    @field_validator("keep_messages")
    @classmethod
    def _keep_at_least_a_day(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(days=1):
            raise ValueError("must be at least 1d (or null to keep messages)")
        return value


class Security(Strict):
    # The HMAC key that signs reply tokens. Read from this environment variable, else
    # from token_key_file, else a key file is generated next to the state file.
    token_key_env: str = "MENTORMAIL_TOKEN_KEY"
    token_key_file: Path | None = None
    # The authserv-id(s) the mail server that receives the program's mail writes in its
    # Authentication-Results (e.g. mx.google.com): only its DMARC verdict is trusted, never
    # one a sender wrote (agent.mail_in.authresults). Unset: no message counts as authenticated.
    authserv_id: AuthservIds = ()
    # A reply that would change something (agree, move, skip, pause, leave, rate, ...),
    # with a reply token or in our thread but without a trusted DMARC pass: "confirm"
    # asks the participant at their configured address to confirm it by replying;
    # "coordinator" passes it to the coordinator. Either way it is not applied as is.
    unauthenticated: Literal["confirm", "coordinator"] = "confirm"
    # How long a confirmation waits for the reply; then the coordinator is told.
    confirm_within: Duration = timedelta(days=5)


def _file_mode(value: object) -> int:
    """A mode in octal digits, as text: YAML reads an unquoted 0640 as the number 416
    and 640 as six hundred and forty, so only a quoted string is unambiguous."""
    if not isinstance(value, str):
        raise ValueError(f'{value!r}: write the mode in quotes, in octal, like "0640"')
    if not re.fullmatch(r"0?[0-7]{3}", value.strip()):
        raise ValueError(f'{value!r} is not an octal file mode like "0600" or "0640"')
    mode = int(value, 8)
    if mode & ~0o666:
        raise ValueError(f"{value!r}: report files are not executable; use read/write bits only")
    if mode & 0o600 != 0o600:
        raise ValueError(f"{value!r}: the owner must keep read and write (0600)")
    return mode


FileMode = Annotated[
    int,
    BeforeValidator(_file_mode),
    PlainSerializer(lambda mode: f"0{mode:o}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^0?[0-7]{3}$", "examples": ["0600"]}),
]


class Reports(Strict):
    # Files the commands write that hold personal data (`report --output`, `forget
    # --export`, `preview --out`): owner only unless this says otherwise.
    file_mode: FileMode = 0o600


class Service(Strict):
    poll_interval: Duration = timedelta(minutes=1)
    log_format: Literal["text", "json"] = "text"


class Limits(Strict):
    """How many emails may leave; the rest wait, oldest first, for the next tick.

    `per_minute` and `per_day` default to the mail connector's provider limits (its
    `send_limits`); `daily_cap` is the program's own ceiling on top of them.
    """

    per_minute: int | None = Field(None, ge=1)
    per_day: int | None = Field(None, ge=1)
    daily_cap: int | None = Field(None, ge=1)


class Config(Strict):
    program: Program
    cadence: Cadence = Cadence()
    at_risk: AtRisk = AtRisk()
    participants: list[Participant]
    pairs: list[Pair]
    mail: ConnectorOptions = ConnectorOptions(type="maildir", path="mail")
    calendar: ConnectorOptions = ConnectorOptions(type="ics", path="calendar")
    storage: Storage = Storage()
    security: Security = Security()
    service: Service = Service()
    limits: Limits = Limits()
    reports: Reports = Reports()
    matching: Matching = Matching()
    base_dir: Path = Path(".")  # the config file's folder; set by load_config

    @model_validator(mode="before")
    @classmethod
    def _escalate_after_is_no_agreement_after(cls, data: Any) -> Any:
        """`cadence.agreement.escalate_after` (the older key) sets the at-risk rule."""
        if not isinstance(data, dict):
            return data
        cadence = data.get("cadence")
        agreement = cadence.get("agreement") if isinstance(cadence, dict) else None
        if not isinstance(agreement, dict) or agreement.get("escalate_after") is None:
            return data
        at_risk = data.get("at_risk")
        if at_risk is None:
            at_risk = {}
        try:
            old = parse_duration(agreement["escalate_after"])
        except ValueError:
            return data  # reported at its own key
        if isinstance(at_risk, dict) and "no_agreement_after" not in at_risk:
            data = {**data, "at_risk": {**at_risk, "no_agreement_after": old}}
        return data

    def participant(self, participant_id: str) -> Participant:
        return self._people[participant_id]

    def pair(self, pair_id: str) -> Pair:
        return self._pairs[pair_id]

    def find_pair(self, pair_id: str | None) -> Pair | None:
        """The pair as the config has it; None for a pair no longer in it."""
        return self._pairs.get(pair_id) if pair_id is not None else None

    def pair_named(self, name: object) -> Pair | None:
        """The pair whose id is `name` in any case (reply tokens and bounce addresses carry
        it lower-cased, as mail systems may change a local part's case); None if none."""
        return self._pairs_folded.get(str(name).lower())

    @cached_property
    def _people(self) -> dict[str, Participant]:
        return {p.id: p for p in self.participants}

    @cached_property
    def _pairs(self) -> dict[str, Pair]:
        return {p.id: p for p in self.pairs}

    @cached_property
    def _pairs_folded(self) -> dict[str, Pair]:
        return {p.id.lower(): p for p in self.pairs}

    def resolve(self, path: Path | str) -> Path:
        """A path from the file, relative to the file's folder."""
        path = Path(os.path.expanduser(str(path)))
        return path if path.is_absolute() else self.base_dir / path


def config_schema() -> dict[str, Any]:
    """JSON Schema of the config file (shipped as config/schema.json for editors)."""
    schema = Config.model_json_schema(mode="validation")
    schema["properties"].pop("base_dir", None)  # set by the loader, not written by people
    schema["properties"]["participants"] = {
        "anyOf": [
            schema["properties"]["participants"],
            {
                "type": "string",
                "description": "a CSV file: id,name,email,role,timezone,hours,aliases",
            },
        ]
    }
    schema["properties"]["pairs"] = {
        "anyOf": [
            schema["properties"]["pairs"],
            {"type": "string", "description": "a CSV file: id,mentor,mentee,goals"},
        ]
    }
    schema["title"] = "mentormail program config"
    return schema
