package telegram_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"pacer/notify"
	"pacer/notify/telegram"
)

const (
	botToken = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	chatID   = "123456789"
)

var msg = notify.Message{
	Title: "Time for your walk · 14 min",
	Body:  "Walk 14 minutes <today> & log it.",
	URL:   "https://pacer.example/c/tok",
}

// fakeBotAPI implements POST /bot<token>/sendMessage as documented at
// core.telegram.org/bots/api: JSON or form parameters; the answer is
// {"ok":true,"result":Message} or {"ok":false,"error_code":…,
// "description":…,"parameters":{…}} with the HTTP status equal to
// error_code.
type fakeBotAPI struct {
	srv  *httptest.Server
	mode string // "", "flood", "blocked", "migrated", "down"
	mu   sync.Mutex
	reqs []map[string]any
}

func newFake(t *testing.T, mode string) *fakeBotAPI {
	f := &fakeBotAPI{mode: mode}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func fail(w http.ResponseWriter, code int, desc string, params map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	v := map[string]any{"ok": false, "error_code": code, "description": desc}
	if params != nil {
		v["parameters"] = params
	}
	json.NewEncoder(w).Encode(v)
}

func (f *fakeBotAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, 400, "Bad Request: method not allowed", nil)
		return
	}
	if r.URL.Path != "/bot"+botToken+"/sendMessage" {
		if strings.HasPrefix(r.URL.Path, "/bot") && strings.HasSuffix(r.URL.Path, "/sendMessage") {
			fail(w, 401, "Unauthorized", nil)
		} else {
			fail(w, 404, "Not Found", nil)
		}
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, 400, "Bad Request: message text is empty", nil)
		return
	}
	var p map[string]any
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		fail(w, 400, "Bad Request: can't parse JSON", nil)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, p)
	f.mu.Unlock()
	switch f.mode {
	case "flood":
		fail(w, 429, "Too Many Requests: retry after 7", map[string]any{"retry_after": 7})
		return
	case "blocked":
		fail(w, 403, "Forbidden: bot was blocked by the user", nil)
		return
	case "migrated":
		fail(w, 400, "Bad Request: group chat was upgraded to a supergroup chat", map[string]any{"migrate_to_chat_id": -1001234567890})
		return
	case "down":
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	if p["chat_id"] != chatID {
		fail(w, 400, "Bad Request: chat not found", nil)
		return
	}
	if s, _ := p["text"].(string); s == "" {
		fail(w, 400, "Bad Request: message text is empty", nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": map[string]any{
		"message_id": 42, "date": 1700000000, "chat": map[string]any{"id": 123456789, "type": "private"}, "text": p["text"],
	}})
}

func (f *fakeBotAPI) got() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.reqs...)
}

func newNotifier(t *testing.T, f *fakeBotAPI, token, chat string) notify.Notifier {
	t.Helper()
	n, err := telegram.New(telegram.Settings{BotToken: token, APIBase: f.srv.URL, HTTPClient: f.srv.Client(), Allow: loopback},
		telegram.Config{Type: "telegram", ChatID: chat})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSendsPlainText(t *testing.T) {
	f := newFake(t, "")
	n := newNotifier(t, f, botToken, chatID)
	if err := n.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := f.got()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	p := reqs[0]
	wantText := "Time for your walk · 14 min\n\nWalk 14 minutes <today> & log it.\nhttps://pacer.example/c/tok"
	if p["chat_id"] != chatID || p["text"] != wantText {
		t.Errorf("chat_id %v text %q\nwant %q %q", p["chat_id"], p["text"], chatID, wantText)
	}
	if _, ok := p["parse_mode"]; ok {
		t.Error("parse_mode set: the text would need escaping")
	}
	if lp, _ := p["link_preview_options"].(map[string]any); lp["is_disabled"] != true {
		t.Errorf("link_preview_options %v: want previews disabled", p["link_preview_options"])
	}
}

func TestLinkNotRepeated(t *testing.T) {
	f := newFake(t, "")
	n := newNotifier(t, f, botToken, chatID)
	m := msg
	m.Body = "Check in: " + m.URL
	if err := n.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if text := f.got()[0]["text"].(string); strings.Count(text, m.URL) != 1 {
		t.Errorf("text %q has the link %d times, want once", text, strings.Count(text, m.URL))
	}
}

func TestClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		name, mode, token, chat string
		temporary               bool
		want                    string
	}{
		{"chat not found", "", botToken, "987654321", false, "telegram error 400"},
		{"wrong token", "", "110201543:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", chatID, false, "check the bot token"},
		{"blocked", "blocked", botToken, chatID, false, "bot was blocked"},
		{"migrated", "migrated", botToken, chatID, false, "update chat_id"},
		{"flood control", "flood", botToken, chatID, true, "retry after 7s"},
		{"bad gateway", "down", botToken, chatID, true, "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.mode)
			err := newNotifier(t, f, tc.token, tc.chat).Send(context.Background(), msg)
			e, ok := err.(*notify.Error)
			if !ok {
				t.Fatalf("error %T %v is not a *notify.Error", err, err)
			}
			if e.Channel != "telegram" || e.Temporary != tc.temporary || e.Gone {
				t.Errorf("error %q: %+v, want temporary %v", err, e, tc.temporary)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, leak := range []string{tc.token, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", msg.Body} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
}

func TestTransportErrorHidesToken(t *testing.T) {
	f := newFake(t, "")
	n := newNotifier(t, f, botToken, chatID)
	f.srv.Close()
	err := n.Send(context.Background(), msg)
	if !notify.Temporary(err) {
		t.Fatalf("Send to a closed server: %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), botToken) || strings.Contains(err.Error(), "/bot") {
		t.Errorf("error %q leaks the token URL", err)
	}
}

func TestConfigErrors(t *testing.T) {
	good := telegram.Settings{BotToken: botToken}
	for _, tc := range []struct {
		name string
		s    telegram.Settings
		c    telegram.Config
		want string
	}{
		{"no token", telegram.Settings{}, telegram.Config{ChatID: chatID}, "bot token"},
		{"bad token", telegram.Settings{BotToken: "secret"}, telegram.Config{ChatID: chatID}, "bot token"},
		{"http API", telegram.Settings{BotToken: botToken, APIBase: "http://api.telegram.org"}, telegram.Config{ChatID: chatID}, "https"},
		{"no chat", good, telegram.Config{}, "chat_id"},
		{"bad chat", good, telegram.Config{ChatID: "alice"}, "chat_id"},
		{"wrong type", good, telegram.Config{Type: "email", ChatID: chatID}, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telegram.New(tc.s, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), botToken) {
				t.Errorf("error %q leaks the token", err)
			}
		})
	}
	for _, id := range []string{"-1001234567890", "@pacer_clinic"} {
		if _, err := telegram.New(good, telegram.Config{ChatID: id}); err != nil {
			t.Errorf("chat_id %q: %v", id, err)
		}
	}
	var c telegram.Config
	dec := json.NewDecoder(strings.NewReader(`{"type":"telegram","chat_id":"123"}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.ChatID != "123" {
		t.Errorf("decode channel object: %+v %v", c, err)
	}
}

// loopback is notify.allow_private as an operator sets it for servers on
// this machine: the test servers listen on 127.0.0.1.
var loopback = func() notify.AllowList {
	a, err := notify.ParseAllowList("127.0.0.1")
	if err != nil {
		panic(err)
	}
	return a
}()
