"""Parse an iCalendar file with python3-icalendar and print what it sees as
JSON, for internal/feed's client test:

    /usr/bin/python3 check_icalendar.py feed.ics

Times are printed as UTC instants; a time without a zone (floating) is printed
as "floating:<value>" and one in another zone with its offset, so that the Go
test rejects both. Property errors the lenient parser swallowed are listed in
"errors".
"""
import datetime
import json
import sys

import icalendar


def instant(dt):
    if not isinstance(dt, datetime.datetime):
        return "date:" + dt.isoformat()
    if dt.tzinfo is None:
        return "floating:" + dt.isoformat()
    if dt.utcoffset() != datetime.timedelta(0) or dt.tzname() != "UTC":
        return "zoned:" + dt.isoformat() + " " + str(dt.tzname())
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(path):
    with open(path, "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    errors = [[c.name, str(e)] for c in cal.walk() for e in c.errors]
    events = []
    for ev in cal.walk("VEVENT"):
        events.append({
            "uid": str(ev.get("UID")),
            "start": instant(ev.decoded("DTSTART")),
            "end": instant(ev.decoded("DTEND")),
            "status": str(ev.get("STATUS")),
            "sequence": int(ev.get("SEQUENCE")),
            "summary": str(ev.get("SUMMARY")),
            "description": str(ev.get("DESCRIPTION")),
            "url": str(ev.get("URL", "")),
            "alarms": [{
                "action": str(a.get("ACTION")),
                "trigger_seconds": int(a.decoded("TRIGGER").total_seconds()),
                "description": str(a.get("DESCRIPTION")),
            } for a in ev.walk("VALARM")],
        })
    json.dump({"name": str(cal.get("X-WR-CALNAME")), "errors": errors,
               "events": events}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
