"""The coordinator's config file: YAML in, typed and cross-checked models out.

Every problem becomes one `ConfigError` holding `key.path: message` lines,
so the CLI can print them all at once and exit 2 without a traceback.
Relative paths in the file are resolved against the file's own folder.

No `from __future__ import annotations` here, unlike elsewhere: pydantic evaluates every
field annotation when it builds a model, and evaluating them from strings costs a few
milliseconds of every start of `mentormail` (bench/startup.py).
"""

import os
import re
from collections.abc import Iterable, Mapping
from datetime import date, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from agent import bounded_yaml
from agent.timefmt import (
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

    from agent.zone_names import zone_advice

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


def _address(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+", text):
        raise ValueError(f"{value!r} is not an email address")
    return text


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


class Program(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: Zone
    start: date
    end: date
    sender: Person
    coordinator: Person
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


class Cadence(Strict):
    onboarding: Onboarding = Onboarding()
    agreement: Agreement = Agreement()
    meetings: Meetings = Meetings()
    follow_up: FollowUp = FollowUp()
    check_in: CheckIn = CheckIn()
    nudge: Nudge = Nudge()
    closure: Closure = Closure()
    digest: Digest = Digest()


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


class Participant(Strict):
    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    role: Literal["mentor", "mentee"]
    timezone: Zone
    hours: Hours = Field(default_factory=lambda: parse_hours("09:00-17:00"))
    aliases: list[EmailStr] = []  # other addresses this person writes from
    calendar: CalendarAccess | None = None  # free/busy (and optionally writing) access

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return Person._one_line(value)

    @property
    def addresses(self) -> set[str]:
        return {self.email.lower(), *(a.lower() for a in self.aliases)}

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


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
    # sqlite: one SQLite database, written by the page (large programs). Unset: sqlite
    # when the path ends in .db, .sqlite or .sqlite3, else tinydb.
    type: Literal["tinydb", "sqlite"] | None = None
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
    # one a sender wrote (agent.authresults). Unset: no message counts as authenticated.
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


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    return {v for v in values if v in seen or seen.add(v)}  # type: ignore[func-returns-value]


def _records(raw: dict[str, Any], section: str) -> list[dict[str, Any]]:
    value = raw.get(section)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def _cross_problems(raw: dict[str, Any]) -> Iterable[str]:
    """Checks across sections, run on the raw data so they report even when fields are wrong."""
    people_list = _records(raw, "participants")
    pairs = _records(raw, "pairs")
    program = raw.get("program") if isinstance(raw.get("program"), dict) else {}
    for dup in sorted(_duplicates(str(p.get("id")) for p in people_list)):
        yield f"participants: id {dup!r} is used twice"
    addresses = [
        str(a).lower()
        for p in people_list
        for a in [p.get("email"), *(p.get("aliases") or [])]
        if a
    ]
    for dup in sorted(_duplicates(addresses)):
        yield f"participants: address {dup!r} belongs to two people"
    for dup in sorted(_duplicates(str(p.get("id")) for p in pairs)):
        yield f"pairs: id {dup!r} is used twice"
    people = {str(p.get("id")): p for p in people_list}
    seen_in: dict[str, str] = {}
    for i, pair in enumerate(pairs):
        for role in ("mentor", "mentee"):
            pid = str(pair.get(role))
            where = f"pairs[{i}].{role}"
            if role not in pair:
                continue  # reported as a missing key
            if pid not in people:
                yield f"{where}: unknown participant {pid!r}{_did_you_mean(pid, people)}"
                continue
            if people[pid].get("role") != role:
                yield f"{where}: {pid!r} is a {people[pid].get('role')}, not a {role}"
            if pid in seen_in and not program.get("allow_multiple_pairs"):
                yield (
                    f"{where}: {pid!r} is already in pair {seen_in[pid]!r} "
                    "(set program.allow_multiple_pairs: true to allow this)"
                )
            seen_in.setdefault(pid, str(pair.get("id")))
        if pair.get("mentor") is not None and pair.get("mentor") == pair.get("mentee"):
            yield f"pairs[{i}]: mentor and mentee are the same person"
    yield from _escalation_conflict(raw)


def _escalation_conflict(raw: dict[str, Any]) -> Iterable[str]:
    """The old and the new name of the agreement rule must not say different things."""
    cadence = raw.get("cadence")
    agreement = cadence.get("agreement") if isinstance(cadence, dict) else None
    at_risk = raw.get("at_risk")
    if not (isinstance(agreement, dict) and isinstance(at_risk, dict)):
        return
    old, new = agreement.get("escalate_after"), at_risk.get("no_agreement_after")
    if old is None or "no_agreement_after" not in at_risk:
        return
    try:
        same = new is not None and parse_duration(old) == parse_duration(new)
    except ValueError:
        return  # the bad value is reported on its own
    if not same:
        yield (
            f"cadence.agreement.escalate_after: {old!r} contradicts at_risk.no_agreement_after "
            f"({'null' if new is None else repr(new)}); they are the same rule: keep only "
            "at_risk.no_agreement_after"
        )


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    from difflib import get_close_matches  # only when something is misspelt

    close = get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, or inside `X | None`, `list[X]`, `Annotated`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys `model` accepts at `loc` (the path of a mapping inside it)."""
    for part in loc:
        if isinstance(part, int) or part.startswith("function-") or "[" in part:
            continue
        field = model.model_fields.get(part)
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            return []
        model = nested
    return [key for key in model.model_fields if key != "base_dir"]


def _message(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error["type"] == "extra_forbidden":
        loc = tuple(error["loc"])
        return "unknown key" + (
            _did_you_mean(str(loc[-1]), _keys_at(model, loc[:-1])) or " (check the spelling)"
        )
    if error["type"] == "missing":
        return "required key is missing"
    if str(error["type"]).startswith("date_"):
        return f"not a date: {error['input']} (write YYYY-MM-DD)"
    return message


def format_validation_error(
    exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[str]:
    """One `key.path: message` line per error; `model` is the one validated (for the
    keys it accepts: "did you mean"), by default the whole config."""
    problems = []
    for error in exc.errors():
        where = _location(tuple(error["loc"]))
        where = f"{prefix}.{where}" if prefix and where else (prefix or where)
        for line in _message(error, model or Config).splitlines():
            # cross-check lines already carry their own key path
            problems.append(f"{where}: {line}" if where else line)
    return problems


def _rows_from_csv(section: str, path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV file with a header line, as mappings of stripped cells; empty
    cells are left out (so the field's default applies)."""
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError([f"{section}: cannot read {path}: {exc.strerror}"]) from None
    return [
        {k.strip(): v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
        for row in rows
    ]


def _participants_from_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV with a header: id,name,email,role,timezone[,hours][,aliases]."""
    people = _rows_from_csv("participants", path)
    for person in people:
        if "aliases" in person:
            aliases = re.split(r"[;,\s]+", person["aliases"])
            person["aliases"] = [a for a in aliases if a]
    return people


def _pairs_from_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV with a header: id,mentor,mentee[,goals] (goals separated by ";")."""
    pairs = _rows_from_csv("pairs", path)
    for pair in pairs:
        if "goals" in pair:
            pair["goals"] = [g.strip() for g in pair["goals"].split(";") if g.strip()]
    return pairs


MAX_CONFIG_BYTES = 16 * 2**20  # far above any real program's config (2 MB at 10,000 people)


def load_config(path: Path | str) -> Config:
    """Read, validate and cross-check a config file, or raise ConfigError."""
    path = Path(path)
    text, raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping of sections (program, participants, ...)"])
    base_dir = path.resolve().parent
    csv_files: dict[str, str] = {}
    if isinstance(raw.get("participants"), str):
        csv_files["participants"] = raw["participants"]
        raw["participants"] = _participants_from_csv(base_dir / raw["participants"])
    if isinstance(raw.get("pairs"), str):
        csv_files["pairs"] = raw["pairs"]
        raw["pairs"] = _pairs_from_csv(base_dir / raw["pairs"])
    raw["base_dir"] = base_dir
    problems = []
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = format_validation_error(exc)
    problems += [p for p in _cross_problems(raw) if p not in problems]
    problems += _connector_problems(raw)
    if problems:
        lines = _line_map(text)
        raise ConfigError(_placed(p, raw, lines, csv_files) for p in problems)
    if config.program.templates is not None:
        _check_template_folder(config.resolve(config.program.templates))
    return config


def _check_template_folder(folder: Path) -> None:
    """A link in the program's template folder that leads out of it is refused here
    as well as by the renderer, so `validate` reports it before any email is built."""
    from agent.confine import escaping

    if not folder.is_dir():
        return  # the renderer says so when it opens the folder
    problems = [
        f"program.templates: {entry.relative_to(folder)} resolves to {target}, outside "
        f"{folder}; refused (put the file itself in the folder)"
        for entry, target in escaping(folder)
    ]
    if problems:
        raise ConfigError(problems)


_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*")
_PART = re.compile(r"([\w-]+)|\[(\d+)\]")


def _placed(
    problem: str, raw: dict[str, Any], lines: dict[tuple[str | int, ...], int], csv: dict[str, str]
) -> str:
    """`participants[3].hours: ...` -> `participants[3] (id: sam) .hours, line 41: ...`:
    the record's id, and the line of the key (or of the nearest key above it) in the file
    (in the CSV file for records read from one)."""
    where, sep, message = problem.partition(": ")
    if not sep or not _PATH.fullmatch(where):
        return problem
    parts = tuple(int(i) if i else k for k, i in _PART.findall(where))
    label = where
    line: str | None = None
    if len(parts) >= 2 and parts[0] in ("participants", "pairs") and isinstance(parts[1], int):
        records = raw.get(str(parts[0]))
        record = records[parts[1]] if isinstance(records, list) and parts[1] < len(records) else {}
        head = f"{parts[0]}[{parts[1]}]"
        ident = record.get("id") if isinstance(record, dict) else None
        if isinstance(ident, str | int) and re.fullmatch(r"[^\x00-\x1f]{1,64}", str(ident)):
            rest = where[len(head) :]
            label = f"{head} (id: {ident})" + (f" {rest}" if rest else "")
        if parts[0] in csv:
            line = f"{csv[str(parts[0])]} line {parts[1] + 2}"
    if line is None:
        found = next((lines[parts[:n]] for n in range(len(parts), 0, -1) if parts[:n] in lines), 0)
        line = f"line {found}" if found else None
    return f"{label}, {line}: {message}" if line else f"{label}: {message}"


def _line_map(text: str) -> dict[tuple[str | int, ...], int]:
    """Key path -> line number (1-based) of every key and list item in the document."""
    try:
        root = yaml.compose(text, Loader=bounded_yaml.LOADER)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str | int, ...], int] = {}
    stack: list[tuple[tuple[str | int, ...], yaml.Node | None]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and (*path, key.value) not in lines:
                    lines[(*path, key.value)] = key.start_mark.line + 1
                    stack.append(((*path, key.value), value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append(((*path, i), item))
    return lines


def _read_yaml(path: Path) -> tuple[str, Any]:
    """The file's text and YAML document; every problem (unreadable, too big, not YAML, aliases
    that expand past agent.bounded_yaml's bounds) is one ConfigError line."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MB; not a config"])
    try:
        text = data.decode("utf-8")
        return text, bounded_yaml.load(text)
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        kind = "YAML too large" if isinstance(exc, bounded_yaml.YAMLTooLarge) else "not valid YAML"
        raise ConfigError([f"{path}{where}: {kind}: {problem}"]) from None


def _connector_problems(raw: dict[str, Any]) -> list[str]:
    from connectors.registry import ConnectorLookupError, options_model

    problems = []
    for section in ("mail", "calendar"):
        spec = raw.get(section)
        if spec is None:
            continue  # the default
        if not isinstance(spec, dict) or "type" not in spec:
            problems.append(f"{section}: expected a mapping with a type, e.g. {{type: maildir}}")
            continue
        options = {k: v for k, v in spec.items() if k != "type"}
        try:
            model = options_model(section, str(spec["type"]))
        except ConnectorLookupError as exc:
            problems.append(f"{section}.type: {exc}")
            continue
        try:
            model.model_validate(options)
        except ValidationError as exc:
            problems.extend(format_validation_error(exc, section, model))
    return problems


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
