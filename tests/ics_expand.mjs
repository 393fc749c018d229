// Expands iCalendar objects with ical.js (the parser of Thunderbird and Nextcloud), for
// tests/test_ics_parsers.py. Reads a JSON list of {ics, end} from stdin; writes, per
// object, {uid: [[startUnix, endUnix], ...]} (every occurrence up to `end`, overrides
// applied, EXDATEs removed) to stdout. ical.js is installed into tests/node_modules by
// .ci/run. TZIDs resolve against the object's own VTIMEZONEs (ical.js looks them up in
// the component tree); a TZID it cannot resolve falls back to the process's local zone,
// which the test sets to one no series uses, so that such a fall-back shows.
import ICAL from "ical.js";

const input = JSON.parse(await new Response(process.stdin).text());

function expand(text, end) {
  const root = new ICAL.Component(ICAL.parse(text));
  const byUid = new Map();
  for (const vevent of root.getAllSubcomponents("vevent")) {
    const uid = vevent.getFirstPropertyValue("uid");
    if (!byUid.has(uid)) byUid.set(uid, { master: null, exceptions: [] });
    const entry = byUid.get(uid);
    if (vevent.hasProperty("recurrence-id")) entry.exceptions.push(vevent);
    else entry.master = vevent;
  }
  const result = {};
  for (const [uid, { master, exceptions }] of byUid) {
    const event = new ICAL.Event(master, { exceptions, strictExceptions: true });
    const iterator = event.iterator();
    const found = [];
    for (let next = iterator.next(); next && next.toUnixTime() <= end; next = iterator.next()) {
      const details = event.getOccurrenceDetails(next);
      found.push([details.startDate.toUnixTime(), details.endDate.toUnixTime()]);
    }
    result[uid] = found;
  }
  return result;
}

process.stdout.write(JSON.stringify(input.map(({ ics, end }) => expand(ics, end))));
