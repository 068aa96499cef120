// Package programs owns pacer's domain: the graded-activity program format and
// its validation, the embedded template library, check-ins, and the progression
// engine that turns a program, an assignment and a check-in history into a
// week-by-week Plan.
//
// Everything here is pure: no I/O beyond decoding bytes handed in, no clock of
// its own (time comes in as a value), no HTTP, no SQL. Packages above it (the
// store, the scheduler, the feed, the web pages) import it; it imports none of
// them.
package programs
