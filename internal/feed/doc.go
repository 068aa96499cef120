// Package feed owns pacer's calendar feeds as iCalendar text (RFC 5545): it
// renders a patient's sessions, already chosen and worded by the caller, into a
// VCALENDAR that real clients (Google, Apple, Outlook, Thunderbird) accept, and
// computes the feed's caching validators (ETag, Calendar.LastModified). It also
// holds the small rules for an event's title, its length and its STATUS.
//
// Render is a pure function of its input: no clock, no randomness, so an
// unchanged plan gives a byte-identical body and the same ETag on every fetch.
//
// The package must not import net/http handlers, SQL or the store; the web
// layer reads the rows, builds a Calendar and serves the bytes. It may import
// programs for its value types (programs.Unit, programs.Status).
package feed
