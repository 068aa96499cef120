package programs

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// CheckText reports the first character of s that has no place in a name
// or an instruction that people read: control characters (a newline in a
// name would forge lines in a message or a calendar), bidirectional
// overrides and isolates (which make text read other than it is stored),
// line and paragraph separators, non-characters, and bytes that are not
// UTF-8. Line breaks and tabs are allowed where multiline is set.
func CheckText(s string, multiline bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8 text")
	}
	for i, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.Is(unicode.Cc, r):
			return fmt.Errorf("has a control character (U+%04X) at byte %d: remove it", r, i)
		case unicode.Is(unicode.Bidi_Control, r):
			return fmt.Errorf("has a bidirectional control character (U+%04X) at byte %d, which makes text display other than it reads: remove it", r, i)
		case unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			return fmt.Errorf("has a line separator (U+%04X) at byte %d: remove it", r, i)
		case r == utf8.RuneError || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE:
			return fmt.Errorf("has a non-character (U+%04X) at byte %d: remove it", r, i)
		}
	}
	return nil
}
