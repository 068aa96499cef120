package feed

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// maxLine is RFC 5545's limit on a content line, in octets, without its CRLF.
const maxLine = 75

// folder folds the CRLF-terminated content lines written to it (go-ical's
// encoder writes them unfolded) at 75 octets, as RFC 5545 §3.1 asks: a long
// line becomes a first line of at most 75 octets and continuation lines of a
// space and at most 74 octets. It never cuts inside a UTF-8 sequence, because
// several clients decode each physical line on its own.
type folder struct {
	w    io.Writer
	line []byte // the start of a line whose CRLF has not been written yet
	out  []byte // the folded line, reused
	err  error
}

// Write folds every complete line in p and keeps the rest for the next Write.
func (f *folder) Write(p []byte) (int, error) {
	n := len(p)
	for f.err == nil && len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			break
		}
		f.line = append(f.line, p[:i+1]...)
		p = p[i+1:]
		line, ok := bytes.CutSuffix(f.line, []byte("\r\n"))
		if !ok {
			f.err = errors.New("fold: a line ends in LF without CR")
			break
		}
		f.err = f.fold(line)
		f.line = f.line[:0]
	}
	if f.err != nil {
		return 0, f.err
	}
	return n, nil
}

// Close reports a last line that never ended; it does not close w.
func (f *folder) Close() error {
	if f.err == nil && len(f.line) > 0 {
		f.err = errors.New("fold: the last line has no CRLF")
	}
	return f.err
}

func (f *folder) fold(line []byte) error {
	out := f.out[:0]
	limit := maxLine
	for len(line) > limit {
		cut := limit
		// Back to the start of the character that straddles the limit (a
		// character is at most 4 octets; the bound only matters for invalid
		// UTF-8, which Render never writes).
		for cut > limit-utf8.UTFMax+1 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		out = append(out, line[:cut]...)
		out = append(out, "\r\n "...)
		line = line[cut:]
		limit = maxLine - 1 // the leading space counts
	}
	out = append(out, line...)
	out = append(out, "\r\n"...)
	f.out = out
	_, err := f.w.Write(out)
	return err
}
