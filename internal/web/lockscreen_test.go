package web_test

// Reminders from the lock screen and the reminders page: an ntfy message
// with a "Done" action, received by a local server playing the ntfy server
// (its documented JSON publish API), whose action's request records the
// session; the private topic pacer makes and the ways to subscribe to it;
// Telegram in guided steps against a local server playing the Bot API;
// saving settings never blocked by a channel the server cannot use; the
// webhook kept but not offered; the Web Push subscription sent again on
// every page load without a re-plan.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/internal/config"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/notify"
	"pacer/notify/telegram"
	"pacer/programs"
)

// ntfyServer plays an ntfy server's JSON publishing (docs.ntfy.sh, "Publish
// as JSON"): a POST of {"topic","message","title","click","priority",
// "actions"} to the root URL, answered with the message as stored.
type ntfyServer struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []ntfyMessage
}

type ntfyMessage struct {
	Topic    string       `json:"topic"`
	Title    string       `json:"title"`
	Message  string       `json:"message"`
	Click    string       `json:"click"`
	Priority int          `json:"priority"`
	Actions  []ntfyAction `json:"actions"`
}

// ntfyAction is an action button as ntfy documents it.
type ntfyAction struct {
	Action  string            `json:"action"`
	Label   string            `json:"label"`
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Clear   bool              `json:"clear"`
}

func startNtfy(t *testing.T) *ntfyServer {
	t.Helper()
	n := &ntfyServer{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m ntfyMessage
		if r.Method != http.MethodPost || r.URL.Path != "/" || json.NewDecoder(r.Body).Decode(&m) != nil || m.Topic == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":40001,"http":400,"error":"invalid request"}`)
			return
		}
		for _, a := range m.Actions { // ntfy's own checks (server/actions.go)
			if a.Action != "http" && a.Action != "view" || a.Label == "" || a.URL == "" {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"code":40018,"http":400,"error":"invalid request: action invalid"}`)
				return
			}
		}
		n.mu.Lock()
		n.msgs = append(n.msgs, m)
		n.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"id": "x1", "time": time.Now().Unix(), "event": "message", "topic": m.Topic, "message": m.Message})
	}))
	t.Cleanup(n.Close)
	return n
}

func (n *ntfyServer) received() []ntfyMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]ntfyMessage(nil), n.msgs...)
}

// dueWalk assigns a daily walk due two minutes after the clock.
func dueWalk(t *testing.T, e *env, patientID int64) int64 {
	t.Helper()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := e.Clock.Now().Add(2 * time.Minute).In(berlin)
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", patientID), e.TokenA, fmt.Sprintf(
		`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
		due.Format(time.DateOnly), due.Format("15:04")), 201, &asg)
	return asg.ID
}

// A patient sets up ntfy from their page, gets a session reminder with a
// Done button, and taps it: the session is done.
func TestNtfyDoneActionRecordsTheSession(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		ntfy := startNtfy(t)
		e := newEnv(t, dsn, testserver.Options{Config: func(c *config.Config) {
			c.Ntfy.Server, c.Notify.AllowPrivate = ntfy.URL, "127.0.0.1"
		}})
		var links patientLinks
		e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
		asg := dueWalk(t, e, links.ID)
		path := strings.TrimPrefix(links.CheckinURL, e.URL)
		b := newBrowser(e)

		// ntfy, set up with one tap: a private topic pacer makes, to
		// subscribe to from a link or a QR code.
		loc := b.send("POST", path+"/ntfy", url.Values{"action": {"on"}}).redirectedTo(t, "set up ntfy", path+"/reminders?saved=ntfy")
		p := b.send("GET", loc, nil)
		m := regexp.MustCompile(`href="(ntfy://127\.0\.0\.1:\d+/(pacer-[A-Za-z0-9_-]{22})\?display=pacer&secure=false)"`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no ntfy:// subscribe link:\n%s", section(t, p.body, "ntfy"))
		}
		topic := m[2]
		svg := regexp.MustCompile(`(?s)<svg[^>]*class="qr-code".*?</svg>`).FindString(section(t, p.body, "ntfy"))
		sameQR(t, "the ntfy code", svg, m[1])
		p.want(t, "the ntfy steps", http.StatusOK, "Your private ntfy channel is ready", `value="`+topic+`"`, "Stop ntfy reminders")

		e.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
		run(t, e)
		msgs := ntfy.received()
		if len(msgs) != 1 {
			t.Fatalf("ntfy received %d messages, want the session reminder", len(msgs))
		}
		msg := msgs[0]
		// The public ntfy server sees the session's own link, never the
		// check-in link.
		if msg.Topic != topic || !sessionURL.MatchString(msg.Click) || strings.Contains(msg.Message+msg.Click, links.CheckinURL) {
			t.Errorf("the reminder: topic %q click %q message %q", msg.Topic, msg.Click, msg.Message)
		}
		if len(msg.Actions) != 1 {
			t.Fatalf("the reminder has %d actions, want Done", len(msg.Actions))
		}
		a := msg.Actions[0]
		if a.Action != "http" || a.Label != "Done" || a.URL != msg.Click || a.Method != "POST" || !a.Clear {
			t.Errorf("the Done action: %+v", a)
		}
		if st := statuses(t, e, asg)["walk "+e.Clock.Now().In(berlinLoc(t)).Format(time.DateOnly)+" "+
			e.Clock.Now().In(berlinLoc(t)).Format("15:04")]; st != programs.Planned {
			t.Fatalf("the session before the tap: %q", st)
		}

		// The ntfy app performs the action as described: no cookie, no
		// Origin, just the request.
		req, _ := http.NewRequest(a.Method, a.URL, strings.NewReader(a.Body))
		for k, v := range a.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("the Done action: %d %s", resp.StatusCode, body)
		}
		now := e.Clock.Now().In(berlinLoc(t))
		if st := statuses(t, e, asg)["walk "+now.Format(time.DateOnly)+" "+now.Format("15:04")]; st != programs.Done {
			t.Errorf("after tapping Done in ntfy the session is %q", st)
		}
		// The link grants that session only: it records nothing else.
		resp, _ = http.Post(a.URL, "application/json", strings.NewReader(`{"status":"done","kind":"red_flag","answers":["bladder_bowel"]}`))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a red flag through the session's link: %d, want 400", resp.StatusCode)
		}

		// Off: the channel goes.
		b.send("POST", path+"/ntfy", url.Values{"action": {"off"}}).redirectedTo(t, "ntfy off", path+"/reminders?saved=ntfy_off")
		var reply channelsReply
		e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
		if len(reply.Channels) != 0 {
			t.Errorf("after ntfy off: %s", reply.Channels)
		}
	})
}

func berlinLoc(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A channel the server cannot use shows as unavailable and blocks nothing;
// the webhook is the clinic's, kept and not offered.
func TestRemindersPageKeepsWhatItCannotUse(t *testing.T) {
	e := sqliteEnv(t) // no mail server
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","email":"rm@example.org","timezone":"Europe/Berlin"}`, 201, &links)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, nil)
	path := strings.TrimPrefix(links.CheckinURL, e.URL)
	b := newBrowser(e)
	p := b.send("GET", path+"/reminders", nil)
	p.want(t, "the reminders page", http.StatusOK, "cannot send these reminders", "<li>email</li>", "This server sends no email")
	for _, not := range []string{`name="email"`, `name="webhook_url"`, "Webhook", "Telegram"} {
		if strings.Contains(p.body, not) {
			t.Errorf("the reminders page offers %q", not)
		}
	}
	// Saving quiet hours is not blocked by the email channel the server
	// cannot use (the error was "channels[0]: email: no SMTP server…").
	loc := b.send("POST", path+"/settings", url.Values{"quiet_start": {"22:00"}, "quiet_end": {"06:30"}, "language": {"de"}}).
		redirectedTo(t, "quiet hours", path+"/reminders?saved=settings")
	if !strings.HasSuffix(loc, "#settings") {
		t.Errorf("after saving the page goes to %q, want the form", loc)
	}
	var reply channelsReply
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
	if reply.QuietHours.Start != "22:00" || reply.Language != "de" || len(reply.Channels) != 1 || !strings.Contains(string(reply.Channels[0]), "rm@example.org") {
		t.Errorf("after saving: %+v", reply)
	}
	// The success message is right where the form is.
	settings := section(t, b.send("GET", loc, nil).body, "settings")
	if !strings.Contains(settings, "Ihre Erinnerungseinstellungen sind gespeichert") || !strings.Contains(settings, `value="22:00"`) {
		t.Errorf("the settings after saving:\n%s", settings)
	}
	// Bad quiet hours: the form again, with what to fix beside it.
	bad := b.send("POST", path+"/settings", url.Values{"quiet_start": {"late"}, "quiet_end": {"06:30"}})
	bad.want(t, "bad quiet hours", http.StatusUnprocessableEntity, "nicht gespeichert", "quiet_hours", `value="late"`)
	if i, j := strings.Index(bad.body, `id="settings"`), strings.Index(bad.body, "nicht gespeichert"); j < i {
		t.Error("the error is not by the form")
	}

	// A webhook the therapist set for a clinic system is kept by the
	// patient's saves, and not shown to them.
	e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA,
		`{"channels":[{"type":"webhook","url":"https://hooks.example.org/pacer"}]}`, 200, nil)
	b.send("POST", path+"/settings", url.Values{"quiet_start": {"21:00"}, "quiet_end": {"07:00"}}).redirectedTo(t, "save again", path+"/reminders")
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
	if len(reply.Channels) != 1 || !strings.Contains(string(reply.Channels[0]), "hooks.example.org") {
		t.Errorf("the webhook after the patient's save: %s", reply.Channels)
	}
}

// botAPI plays the Telegram Bot API's getMe and getUpdates (core.telegram.org/bots/api).
type botAPI struct {
	*httptest.Server
	mu      sync.Mutex
	updates []map[string]any
}

func startBotAPI(t *testing.T, token string) *botAPI {
	t.Helper()
	api := &botAPI{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/bot" + token + "/getMe":
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": map[string]any{"id": 1, "is_bot": true, "first_name": "Clinic", "username": "clinic_pacer_bot"}})
		case "/bot" + token + "/getUpdates":
			api.mu.Lock()
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": api.updates})
			api.mu.Unlock()
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"ok":false,"error_code":404,"description":"Not Found"}`)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

// start is a private chat sending "/start <code>", as Telegram's Start
// button does.
func (api *botAPI) start(chat int64, code string) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.updates = append(api.updates, map[string]any{"update_id": len(api.updates) + 1, "message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "/start " + code,
		"chat": map[string]any{"id": chat, "type": "private", "first_name": "R"}}})
}

// Telegram in guided steps: open the bot, tap Start, come back: no chat id
// to type.
func TestTelegramGuidedSteps(t *testing.T) {
	const token = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	api := startBotAPI(t, token)
	e := sqliteEnv(t, testserver.Options{Config: func(c *config.Config) { c.Telegram.Token = config.Secret(token) }})
	allow, err := notify.ParseAllowList("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	bot, err := telegram.NewBot(telegram.Settings{BotToken: token, APIBase: api.URL, Allow: allow})
	if err != nil {
		t.Fatal(err)
	}
	e.Daemon.Web.Telegram = bot // the daemon's talks to api.telegram.org
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	path := strings.TrimPrefix(links.CheckinURL, e.URL)
	b := newBrowser(e)
	tg := section(t, b.send("GET", path+"/reminders", nil).body, "telegram")
	m := regexp.MustCompile(`href="https://t\.me/clinic_pacer_bot\?start=([A-Za-z0-9_-]{24})"`).FindStringSubmatch(tg)
	if m == nil || strings.Contains(tg, "chat_id") {
		t.Fatalf("no guided Telegram steps:\n%s", tg)
	}
	// "I tapped Start" before Telegram has it: the steps say so.
	loc := b.send("POST", path+"/telegram", url.Values{"action": {"on"}}).redirectedTo(t, "too early", path+"/reminders?telegram=not_found")
	b.send("GET", loc, nil).want(t, "not found yet", http.StatusOK, "has not seen your Start yet")
	api.start(555, "someone-elses-code")
	api.start(4242, m[1])
	b.send("POST", path+"/telegram", url.Values{"action": {"on"}}).redirectedTo(t, "connected", path+"/reminders?saved=telegram")
	var reply channelsReply
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
	if len(reply.Channels) != 1 || !regexp.MustCompile(`"chat_id":\s*"4242"`).Match(reply.Channels[0]) {
		t.Errorf("after connecting: %s", reply.Channels)
	}
	b.send("GET", path+"/reminders", nil).want(t, "connected", http.StatusOK, "Reminders come to you in Telegram")
}

// The page sends the browser's push subscription at every load: an
// unchanged one is stored once and re-plans nothing.
func TestPushSubscriptionResyncIsCheap(t *testing.T) {
	e, _, links, path := checkinFixture(t, "")
	sub := `{"endpoint":"https://push.example.org/send/abc","expirationTime":null,` +
		`"keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}`
	e.JSON("POST", path+"/push-subscriptions", "", sub, 201, nil)
	runs := e.Daemon.Clinic.EngineRuns()
	for range 3 {
		e.JSON("POST", path+"/push-subscriptions", "", sub, 201, nil)
	}
	if n := e.Daemon.Clinic.EngineRuns() - runs; n != 0 {
		t.Errorf("sending an unchanged subscription again re-planned %d times", n)
	}
	var reply channelsReply
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
	if len(reply.Channels) != 1 {
		t.Errorf("channels after four sends: %s", reply.Channels)
	}
}
