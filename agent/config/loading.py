"""Reading a config file: bounded YAML or CSV in, a checked `Config` or one `ConfigError` out.

Every problem becomes one `ConfigError` line (`participants[3] (id: sam).hours, line 41:
...`), so the CLI can print them all at once and exit 2 without a traceback. Checks across
sections (unknown participant ids, duplicate ids) run on the raw data, so they report even
when a field is wrong as well.
"""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from agent.config import bounded_yaml
from agent.config.addresses import mailbox_key
from agent.config.model import Config, ConfigError
from agent.meetings.timefmt import parse_duration


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    return {v for v in values if v in seen or seen.add(v)}  # type: ignore[func-returns-value]


def _shared_mailboxes(people: list[dict[str, Any]]) -> Iterable[str]:
    """Two people whose addresses reach one mailbox (agent.config.addresses): a reply from
    it could be either's, so the config must not merge them."""
    owners: dict[str, list[tuple[str, str]]] = {}
    for person in people:
        aliases = person.get("aliases")
        for address in [person.get("email"), *(aliases if isinstance(aliases, list) else [])]:
            if isinstance(address, str) and address.strip():
                key = mailbox_key(address)
                found = owners.setdefault(key, [])
                if all(who != str(person.get("id")) for who, _ in found):
                    found.append((str(person.get("id")), address.strip()))
    for key in sorted(owners):
        if len(owners[key]) > 1:
            who = " and ".join(repr(w) for w, _ in owners[key])
            spelt = ", ".join(a for _, a in owners[key])
            yield f"participants: {who} have addresses that reach the same mailbox ({spelt})"


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
    yield from _shared_mailboxes(people_list)
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


_LIST_COLUMNS = ("goals", "experience", "interests", "languages")  # separated by ";"


def _participants_from_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV with a header: id,name,email,role,timezone[,hours][,aliases] and, for
    matching, [goals][,experience][,interests][,languages][,capacity] (lists by ";")."""
    people = _rows_from_csv("participants", path)
    for person in people:
        if "aliases" in person:
            aliases = re.split(r"[;,\s]+", person["aliases"])
            person["aliases"] = [a for a in aliases if a]
        for column in _LIST_COLUMNS:
            if column in person:
                person[column] = [v.strip() for v in person[column].split(";") if v.strip()]
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
    from agent.config.confine import escaping

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
    that expand past agent.config.bounded_yaml's bounds) is one ConfigError line."""
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
