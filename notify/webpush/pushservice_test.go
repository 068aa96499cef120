package webpush_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pacer/notify"
	"pacer/notify/webpush"
)

// TestWebPushTestingService sends through a second, independent push
// service: npm's web-push-testing (Node's http_ece decrypts the payload,
// jsonwebtoken checks the VAPID token). It runs when PACER_TEST_WEBPUSH=1,
// after `npm ci` in testdata/pushserver.
func TestWebPushTestingService(t *testing.T) {
	if os.Getenv("PACER_TEST_WEBPUSH") != "1" {
		t.Skip("set PACER_TEST_WEBPUSH=1 (after `npm ci` in notify/webpush/testdata/pushserver) to test against web-push-testing")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "pushserver"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "web-push-testing")); err != nil {
		t.Fatalf("web-push-testing is not installed: run `npm ci` in %s (%v)", dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("PACER_TEST_WEBPUSH=1 needs Node.js 20 or later: %v", err)
	}
	base := startPushService(t, node, dir)
	api := &pushAPI{base: base, client: &http.Client{Timeout: 10 * time.Second}}

	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	// What the check-in page's pushManager.subscribe would return.
	var sub struct {
		webpush.Config
		ClientHash string `json:"clientHash"`
	}
	api.call(t, "/subscribe", map[string]string{"applicationServerKey": public, "userVisibleOnly": "true"}, &sub)
	if !strings.HasPrefix(sub.Endpoint, base+"/notify/") || sub.ClientHash == "" {
		t.Fatalf("subscription %+v: endpoint not on %s", sub, base)
	}

	n, err := webpush.New(webpush.Settings{
		VAPIDPublicKey: public, VAPIDPrivateKey: private,
		Subscriber: "mailto:ops@clinic.example",
		Allow:      loopback, // web-push-testing speaks plain HTTP on 127.0.0.1
	}, webpush.Config{Endpoint: sub.Endpoint, ExpirationTime: sub.ExpirationTime, Keys: sub.Keys})
	if err != nil {
		t.Fatal(err)
	}
	m := notify.Message{Title: "Time for your walk · 14 min", Body: "Walk 14 minutes at an easy pace.", URL: "https://pacer.example/c/7Yq2", Tag: "session-42", Urgent: true,
		Done: &notify.Done{Label: "Done", URL: "https://pacer.example/s/Xy9", Confirmed: "Recorded."}}
	if err := n.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	var got struct {
		Messages []string `json:"messages"`
	}
	api.call(t, "/get-notifications", map[string]string{"clientHash": sub.ClientHash}, &got)
	if len(got.Messages) != 1 {
		t.Fatalf("push service holds %d messages, want 1: %q", len(got.Messages), got.Messages)
	}
	var payload webpush.Payload
	if err := json.Unmarshal([]byte(got.Messages[0]), &payload); err != nil {
		t.Fatalf("delivered %q is not JSON: %v", got.Messages[0], err)
	}
	want := webpush.Payload{WebPush: 8030, Notification: webpush.Notification{Title: m.Title, Body: m.Body, Navigate: m.URL, Tag: m.Tag,
		Actions: []webpush.Action{{Action: "done", Title: "Done", Navigate: m.Done.URL}},
		Data:    &webpush.Data{Done: m.Done.URL, Confirmed: "Recorded."}}}
	if !reflect.DeepEqual(payload, want) {
		t.Errorf("delivered %+v\nwant %+v", payload, want)
	}

	// An expired subscription answers 410: the error says Gone.
	api.call(t, "/expire-subscription/"+sub.ClientHash, nil, nil)
	err = n.Send(context.Background(), m)
	if !notify.Gone(err) || notify.Temporary(err) {
		t.Fatalf("Send to an expired subscription: %v, want a Gone, permanent error", err)
	}
	if strings.Contains(err.Error(), sub.ClientHash) {
		t.Errorf("error %q leaks the endpoint", err)
	}
}

// startPushService runs testdata/pushserver/start.js and returns its base
// URL. The process is killed when the test ends.
func startPushService(t *testing.T, node, dir string) string {
	t.Helper()
	cmd := exec.Command(node, "start.js")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if base, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				lines <- base
			}
		}
		close(lines)
	}()
	select {
	case base, ok := <-lines:
		if !ok {
			t.Fatalf("web-push-testing exited before listening: %s", stderr.String())
		}
		return base
	case <-time.After(20 * time.Second):
		t.Fatalf("web-push-testing did not start within 20s: %s", stderr.String())
	}
	return ""
}

type pushAPI struct {
	base   string
	client *http.Client
}

// call POSTs body as JSON to one of web-push-testing's API paths and
// decodes the "data" member of the answer into out.
func (a *pushAPI) call(t *testing.T, path string, body, out any) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	resp, err := a.client.Post(a.base+path, "application/json", in)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d %s", path, resp.StatusCode, raw)
	}
	if out == nil {
		return
	}
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatalf("POST %s: %v in %s", path, err, raw)
	}
	if err := json.Unmarshal(envelope.Data, out); err != nil {
		t.Fatal(fmt.Errorf("POST %s: data %s: %w", path, envelope.Data, err))
	}
}
