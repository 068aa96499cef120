package email

import (
	"strings"
	"testing"

	"pacer/notify"
)

func TestMessageIDFollowsTheTag(t *testing.T) {
	n, err := New(Settings{Host: "127.0.0.1", From: "pacer@clinic.example", TLS: TLSNone}, Config{Address: "p@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	id := func(tag string) string {
		b, err := n.(*notifier).compose(notify.Message{Title: "t", Body: "b", Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\r\n") {
			if strings.HasPrefix(line, "Message-ID: ") {
				return line
			}
		}
		t.Fatal("no Message-ID")
		return ""
	}
	// Each call composes the message anew.
	first, again, other := id("session:1:2"), id("session:1:2"), id("session:1:3")
	untagged, untaggedAgain := id(""), id("")
	if first != again || first == other || untagged == untaggedAgain {
		t.Error("a tagged message's Message-ID must follow its tag; an untagged one must be unique")
	}
}
