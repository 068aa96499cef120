// Package notifytest is a test helper, not a channel: a Notifier that
// records what it is asked to send and can be told to fail, for the unit
// tests of the dispatcher and anything else that takes a notify.Notifier.
// Production code must not import it.
package notifytest

import (
	"context"
	"sync"

	"pacer/notify"
)

// Notifier records messages. It is safe for concurrent use; the zero
// value is ready.
type Notifier struct {
	mu       sync.Mutex
	sent     []notify.Message
	attempts int
	failures []error // answered in order by the next sends
}

// New returns an empty Notifier.
func New() *Notifier { return &Notifier{} }

// Send records m, or returns the next queued failure without recording
// it. A context that is already done fails like a real channel would,
// with a temporary error, and is not counted as an attempt.
func (n *Notifier) Send(ctx context.Context, m notify.Message) error {
	if err := ctx.Err(); err != nil {
		return &notify.Error{Channel: "test", Temporary: true, Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attempts++
	if len(n.failures) > 0 {
		err := n.failures[0]
		n.failures = n.failures[1:]
		return err
	}
	n.sent = append(n.sent, m)
	return nil
}

// FailNext makes the next count sends fail with err (after any failures
// already queued). Use &notify.Error{Temporary: true} for a retryable
// failure, Gone: true for a vanished recipient, neither for a permanent one.
func (n *Notifier) FailNext(count int, err *notify.Error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range count {
		n.failures = append(n.failures, err)
	}
}

// Messages returns a copy of the messages sent successfully, in order.
func (n *Notifier) Messages() []notify.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notify.Message(nil), n.sent...)
}

// Attempts is the number of sends tried, failed ones included.
func (n *Notifier) Attempts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.attempts
}

// Reset forgets messages, attempts and queued failures.
func (n *Notifier) Reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent, n.attempts, n.failures = nil, 0, nil
}
