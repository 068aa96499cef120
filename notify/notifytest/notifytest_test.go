package notifytest_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"pacer/notify"
	"pacer/notify/notifytest"
)

var _ notify.Notifier = (*notifytest.Notifier)(nil)

func TestRecordsAndFails(t *testing.T) {
	n := notifytest.New()
	ctx := context.Background()
	busy := &notify.Error{Channel: "ntfy", Temporary: true, Err: errors.New("HTTP 503")}
	gone := &notify.Error{Channel: "webpush", Gone: true, Err: errors.New("HTTP 410")}
	n.FailNext(2, busy)
	n.FailNext(1, gone)

	for i, want := range []error{busy, busy, gone, nil, nil} {
		err := n.Send(ctx, notify.Message{Title: string(rune('a' + i))})
		if err != want {
			t.Fatalf("send %d: %v, want %v", i, err, want)
		}
	}
	if !notify.Temporary(busy) || !notify.Gone(gone) {
		t.Fatal("classification lost")
	}
	got := n.Messages()
	if len(got) != 2 || got[0].Title != "d" || got[1].Title != "e" {
		t.Errorf("messages %+v, want the two sent after the failures", got)
	}
	if n.Attempts() != 5 {
		t.Errorf("attempts %d, want 5", n.Attempts())
	}
	n.Reset()
	if len(n.Messages()) != 0 || n.Attempts() != 0 {
		t.Error("Reset kept state")
	}
}

func TestCancelledContext(t *testing.T) {
	var n notifytest.Notifier
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Send(ctx, notify.Message{Title: "x"})
	if !notify.Temporary(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
	if len(n.Messages()) != 0 || n.Attempts() != 0 {
		t.Error("a cancelled send was recorded")
	}
}

func TestConcurrentUse(t *testing.T) {
	n := notifytest.New()
	n.FailNext(10, &notify.Error{Channel: "email", Temporary: true, Err: errors.New("421")})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { n.Send(context.Background(), notify.Message{}) })
	}
	wg.Wait()
	if n.Attempts() != 50 || len(n.Messages()) != 40 {
		t.Errorf("attempts %d messages %d, want 50 and 40", n.Attempts(), len(n.Messages()))
	}
}
