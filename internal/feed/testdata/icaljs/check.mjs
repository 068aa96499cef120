// Parses an iCalendar file with Mozilla's ical.js (the parser Thunderbird
// uses) and prints what it sees as JSON, for internal/feed's client test:
//
//	node check.mjs feed.ics
//
// Times are printed as UTC instants; a time that is not in UTC (floating, or
// with a TZID) is reported in "zone" so that the Go test can reject it.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const cal = new ICAL.Component(ICAL.parse(text)); // throws on a syntax error

const instant = (t) => t.toJSDate().toISOString().replace(/\.\d{3}Z$/, "Z");

const events = cal.getAllSubcomponents("vevent").map((comp) => {
  const ev = new ICAL.Event(comp);
  return {
    uid: ev.uid,
    start: instant(ev.startDate),
    end: instant(ev.endDate),
    zone: ev.startDate.zone.tzid + "/" + ev.endDate.zone.tzid,
    status: comp.getFirstPropertyValue("status"),
    sequence: ev.sequence,
    summary: ev.summary,
    description: ev.description,
    url: comp.getFirstPropertyValue("url") ?? "",
    alarms: comp.getAllSubcomponents("valarm").map((a) => ({
      action: a.getFirstPropertyValue("action"),
      trigger_seconds: a.getFirstPropertyValue("trigger").toSeconds(),
      description: a.getFirstPropertyValue("description"),
    })),
  };
});

process.stdout.write(JSON.stringify({
  name: cal.getFirstPropertyValue("x-wr-calname"),
  events,
}));
