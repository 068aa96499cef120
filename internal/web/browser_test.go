package web_test

// Browser tests: the pages in Debian's Chromium (/usr/bin/chromium, headless),
// driven by chromedp. Each test gets a fresh browser context (no cookies, no
// service workers from another test) in one Chromium that the test binary
// starts once. Every page is checked for script errors, screenshotted into
// PACER_TEST_ARTIFACTS, and checked with axe-core (from npm, in
// testdata/axe), which fails the test on a serious or critical violation.
// They run when PACER_TEST_BROWSER=1; .ci/run sets it.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pacer/internal/store"
	"pacer/internal/testkit/testserver"
)

const chromiumPath = "/usr/bin/chromium" // Debian's chromium package

// The one Chromium of this test binary, started by the first browser test
// and stopped by TestMain.
var chromium struct {
	once sync.Once
	ctx  context.Context // a chromedp context on the running browser
	err  error
	stop func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.stop != nil {
		chromium.stop()
	}
	os.Exit(code)
}

// browserContext returns the shared browser, starting it on first use. It
// skips the test unless PACER_TEST_BROWSER=1.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv("PACER_TEST_BROWSER") != "1" {
		t.Skip("set PACER_TEST_BROWSER=1 to run the browser tests (needs " + chromiumPath +
			" and `npm ci --prefix internal/web/testdata/axe`)")
	}
	chromium.once.Do(func() {
		dir, err := os.MkdirTemp("", "pacer-chromium-")
		if err != nil {
			chromium.err = err
			return
		}
		opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir),
		)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelBrowser := chromedp.NewContext(allocCtx)
		chromium.ctx = ctx
		chromium.stop = func() {
			cancelBrowser()
			cancelAlloc()
			os.RemoveAll(dir)
		}
		// Start it now, so that a missing browser fails here with its
		// reason. (The browser lives as long as the context of this first
		// Do, so it gets no timeout of its own.)
		if err := chromedp.Do(ctx); err != nil {
			chromium.err = fmt.Errorf("start %s: %w", chromiumPath, err)
		}
	})
	if chromium.err != nil {
		t.Fatal(chromium.err)
	}
	return chromium.ctx
}

// tab is one page in a browser context of its own, for one test.
type tab struct {
	t   *testing.T
	ctx context.Context
	e   *env

	mu        sync.Mutex
	problems  []pageProblem   // script errors seen on the page
	documents map[string]bool // URLs the tab showed as top-level pages
	shots     int
}

type pageProblem struct {
	text string
	// failedLoad is the URL of a failed network request, when that is the
	// problem: it does not count when it is a page the tab showed (the
	// tests open 404 and 422 pages on purpose), only when it is a script,
	// style sheet, manifest or other part of one.
	failedLoad string
}

// newTab opens a tab in a fresh browser context. When the test ends, it fails
// the test if any page showed a script error.
func newTab(t *testing.T, e *env) *tab {
	t.Helper()
	b := &tab{t: t, e: e, documents: map[string]bool{}}
	ctx, cancel := chromedp.NewContext(browserContext(t),
		chromedp.WithNewBrowserContext(),
		chromedp.WithListener(b.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			if p.failedLoad == "" || !b.documents[p.failedLoad] {
				t.Errorf("page script error: %s", p.text)
			}
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return b
}

// listen collects the page's uncaught exceptions, console.error calls and
// error entries of the browser log (a blocked script, a failed request). It
// runs in chromedp's event loop, so it only records.
func (b *tab) listen(ev any) {
	var p pageProblem
	switch ev := ev.(type) {
	case *cdppage.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			b.mu.Lock()
			b.documents[ev.Frame.URL] = true
			b.mu.Unlock()
		}
		return
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p.text = d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			p.text += " " + d.Exception.Description
		}
		p.text += fmt.Sprintf(" (%s:%d:%d)", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		p.text = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		// The pages name no icon, so Chromium asks for /favicon.ico on its
		// own; that 404 is the browser's, not the page's.
		if ev.Entry.Level != log.EntryLevelError || strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
			return
		}
		p.text = fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		if ev.Entry.Source == log.EntrySourceNetwork {
			p.failedLoad = ev.Entry.URL
		}
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// stepTimeout bounds one step of a test, such as waiting for an element.
const stepTimeout = 20 * time.Second

// do runs actions in the tab, failing the test on an error.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action in the tab and returns its value.
func value[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open loads a path of the server under test.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.e.URL+path))
}

// path is the path and query of the tab's current URL.
func (b *tab) path() string {
	b.t.Helper()
	loc := value(b, "location", chromedp.Location())
	return strings.TrimPrefix(loc, b.e.URL)
}

// text is the page's visible text.
func (b *tab) text() string {
	b.t.Helper()
	return value(b, "page text", chromedp.Evaluate[string](`document.body.innerText`))
}

// has reports whether a CSS selector matches an element now.
func (b *tab) has(css string) bool {
	b.t.Helper()
	return value(b, "query "+css, chromedp.Evaluate[bool](
		fmt.Sprintf(`document.querySelector(%q) !== null`, css)))
}

// check screenshots the page and runs axe-core on it.
func (b *tab) check(name string) {
	b.t.Helper()
	b.screenshot(name)
	b.axe(name)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// artifacts is where screenshots go: PACER_TEST_ARTIFACTS, or a temporary
// directory of the test.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PACER_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// screenshot writes a full-page PNG of the tab, named for the test and step.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png := value(b, "screenshot", chromedp.FullScreenshot(100))
	b.mu.Lock()
	b.shots++
	n := b.shots
	b.mu.Unlock()
	file := filepath.Join(artifacts(b.t), fmt.Sprintf("%s-%02d-%s.png",
		unsafeName.ReplaceAllString(b.t.Name(), "_"), n, unsafeName.ReplaceAllString(name, "_")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot of %s: %s", name, file)
}

var axeSource = sync.OnceValues(func() (string, error) {
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		return "", fmt.Errorf("%w; run `npm ci --prefix internal/web/testdata/axe`", err)
	}
	return string(src), nil
})

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	URL    string   `json:"helpUrl"`
	Nodes  []string `json:"nodes"`
}

// axe runs axe-core on the page: a serious or critical violation fails the
// test, a lesser one is logged.
func (b *tab) axe(name string) {
	b.t.Helper()
	for _, v := range b.axeViolations(name) {
		msg := fmt.Sprintf("axe on %s: %s (%s): %s %s\n\t%s", name, v.ID, v.Impact, v.Help, v.URL, strings.Join(v.Nodes, "\n\t"))
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Error(msg)
		} else {
			b.t.Log(msg)
		}
	}
}

func (b *tab) axeViolations(name string) []axeViolation {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		b.t.Fatal(err)
	}
	// Runtime.evaluate is not subject to the page's Content-Security-Policy,
	// so axe goes in without loosening it.
	b.do("inject axe-core", chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
	return value(b, "axe.run on "+name, chromedp.Evaluate[[]axeViolation](`
		axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " ")),
		})))`, chromedp.EvalAwaitPromise))
}

// therapistLink adds a therapist as `pacer user add` does, with a one-time
// setup link, and an API token as `pacer token create` does. It returns the
// link's path and the token.
func therapistLink(t *testing.T, e *env, email string) (link, apiToken string) {
	t.Helper()
	ctx := t.Context()
	th, err := e.Store.CreateTherapist(ctx, email, "Dr "+strings.Split(email, "@")[0], false)
	if err != nil {
		t.Fatal(err)
	}
	setup, _ := store.NewToken()
	if err := e.Store.CreateSetupToken(ctx, th.ID, store.HashToken(setup), e.Clock.Now().Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	apiToken, _ = store.NewToken()
	if err := e.Store.CreateAPIToken(ctx, th.ID, "browser test", store.HashToken(apiToken)); err != nil {
		t.Fatal(err)
	}
	return "/setup/" + setup, apiToken
}

// setPassword follows a setup link in the tab and chooses a password; the
// server then signs the therapist in and sends the browser home.
func (b *tab) setPassword(link, password string) {
	b.t.Helper()
	b.open(link)
	b.do("fill in the setup form",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
}

const browserPassword = "correct horse battery staple"

func browserEnv(t *testing.T) *env {
	t.Helper()
	browserContext(t) // skip before building a server when browsers are off
	return sqliteEnv(t)
}

func TestBrowserVisitorSeesLoginForm(t *testing.T) {
	e := browserEnv(t)
	b := newTab(t, e)
	b.open("/")
	for _, css := range []string{
		`form[method="post"][action="/login"]`,
		`form input#email[type="email"][name="email"]`,
		`form input#password[type="password"][name="password"]`,
		`label[for="email"]`, `label[for="password"]`,
		`form button[type="submit"]`,
	} {
		if !b.has(css) {
			t.Errorf("the visitor's / has no %s", css)
		}
	}
	if b.has(`form[action="/logout"]`) {
		t.Error("a visitor's / offers to sign out")
	}
	b.check("login")
}

func TestBrowserSetupLinkSetsPassword(t *testing.T) {
	e := browserEnv(t)
	b := newTab(t, e)
	link, _ := therapistLink(t, e, "ada@example.org")

	b.open(link)
	if txt := b.text(); !strings.Contains(txt, "ada@example.org") {
		t.Errorf("the setup page does not name the therapist:\n%s", txt)
	}
	b.check("setup")

	// Two different passwords: the page says what to fix and stays put.
	b.do("submit differing passwords",
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), browserPassword+"!"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("setup-errors")),
	)
	if txt := b.text(); !strings.Contains(txt, "The two passwords differ") {
		t.Errorf("the setup page does not say the passwords differ:\n%s", txt)
	}
	b.check("setup-error")

	b.setPassword(link, browserPassword)
	if p := b.path(); p != "/" {
		t.Errorf("after setting the password the browser is at %s, want /", p)
	}
	if txt := b.text(); !strings.Contains(txt, "ada@example.org") || !strings.Contains(txt, "Signed in as") {
		t.Errorf("home after setup does not show the therapist signed in:\n%s", txt)
	}
	b.check("home-after-setup")

	// The link works once.
	b.open(link)
	if txt := b.text(); !strings.Contains(txt, "This link does not work") {
		t.Errorf("a used setup link still works:\n%s", txt)
	}

	// Sign out, then sign in with the new password through the login form.
	b.open("/")
	b.do("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.org"),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
	if txt := b.text(); !strings.Contains(txt, "Signed in as") {
		t.Errorf("signing in with the new password did not reach home:\n%s", txt)
	}
}

// TestBrowserHarnessSeesProblems checks the checks: a page with a script
// error, a console error, a missing script and an unlabelled field is caught.
func TestBrowserHarnessSeesProblems(t *testing.T) {
	browserContext(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
<h1>bad</h1><input type="text"><script src="/missing.js"></script>
<script>console.error("logged"); null.boom;</script></main></body></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := newTab(t, &env{Server: &testserver.Server{URL: srv.URL}, t: t})
	b.open("/")
	if !slices.ContainsFunc(b.axeViolations("bad"), func(v axeViolation) bool { return v.ID == "label" && v.Impact == "critical" }) {
		t.Error("axe did not report the unlabelled field")
	}
	// The problems arrive as events; give them a moment.
	var got []pageProblem
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b.mu.Lock()
		got = slices.Clone(b.problems)
		b.mu.Unlock()
		if len(got) >= 3 {
			break
		}
	}
	var all []string
	for _, p := range got {
		all = append(all, p.text)
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"null", "console.error: \"logged\"", "/missing.js"} {
		if !strings.Contains(text, want) {
			t.Errorf("the collector missed %q; it has:\n%s", want, text)
		}
	}
	b.mu.Lock()
	b.problems = nil // seen; the tab's cleanup must not fail the test for them
	b.mu.Unlock()
}

// browserPatient creates a patient with the walking program from Monday
// 23 November 2026 (the env's today) through the API, as therapist token.
func browserPatient(t *testing.T, e *env, token, name string) (patientLinks, assignmentJSON) {
	t.Helper()
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", token,
		fmt.Sprintf(`{"name":%q,"email":"p%d@example.org","timezone":"Europe/Berlin"}`, name, time.Now().UnixNano()), 201, &links)
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), token,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":20}}`, 201, &asg)
	return links, asg
}

func TestBrowserTherapistHomeAndPatientChart(t *testing.T) {
	e := browserEnv(t)
	b := newTab(t, e)
	link, token := therapistLink(t, e, "ada@example.org")
	mine, _ := browserPatient(t, e, token, "Rosa Marquez")
	browserPatient(t, e, token, "Jon Berg")
	browserPatient(t, e, e.TokenB, "Somebody Else") // another therapist's

	b.setPassword(link, browserPassword)
	txt := b.text()
	for _, name := range []string{"Rosa Marquez", "Jon Berg"} {
		if !strings.Contains(txt, name) {
			t.Errorf("home does not list the patient %s:\n%s", name, txt)
		}
	}
	if strings.Contains(txt, "Somebody Else") {
		t.Errorf("home lists another therapist's patient:\n%s", txt)
	}
	patientPage := fmt.Sprintf("/patients/%d", mine.ID)
	if !b.has(fmt.Sprintf(`a[href="%s"]`, patientPage)) {
		t.Errorf("home has no link to %s", patientPage)
	}
	b.check("home")

	b.do("open the patient page", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="%s"]`, patientPage))),
		chromedp.WaitReady(chromedp.CSS("main svg")))
	if p := b.path(); p != patientPage {
		t.Errorf("the link went to %s, want %s", p, patientPage)
	}
	if txt := b.text(); !strings.Contains(txt, "Rosa Marquez") {
		t.Errorf("the patient page does not name the patient:\n%s", txt)
	}
	// A chart: an SVG with drawn marks, and a name for screen readers
	// (axe's svg-img-alt rule checks the name of an SVG with role="img").
	marks := value(b, "count the chart's marks", chromedp.Evaluate[int](
		`[...document.querySelectorAll("main svg")].reduce((n, s) => n + s.querySelectorAll("path, rect, line, polyline, circle").length, 0)`))
	if marks == 0 {
		t.Error("the patient page's SVG draws nothing")
	}
	b.check("patient")
}

// tapAndLoad taps the element and waits for the page its form loads.
func (b *tab) tapAndLoad(what, css string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Tap(chromedp.CSS(css)))); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func TestBrowserTherapistAssignsAProgram(t *testing.T) {
	e := browserEnv(t)
	b := newTab(t, e)
	link, token := therapistLink(t, e, "ada@example.org")
	var p patientLinks
	e.JSON("POST", "/api/v1/patients", token, `{"name":"Ines Roth","timezone":"Europe/Berlin"}`, 201, &p)
	b.setPassword(link, browserPassword)

	b.open(fmt.Sprintf("/patients/%d", p.ID))
	b.do("choose the core program", chromedp.SetValue(chromedp.CSS(`select#program`), "core"))
	b.tapAndLoad("open the assignment form", `form[method="get"] button[type="submit"]`)
	b.check("assign-form")
	b.tapAndLoad("assign", fmt.Sprintf(`form[action="/patients/%d/assignments"] button[value="assign"]`, p.ID))
	var got struct {
		Assignments []struct {
			Program string `json:"program"`
		} `json:"assignments"`
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d", p.ID), token, "", 200, &got)
	if len(got.Assignments) != 1 || got.Assignments[0].Program != "core" {
		t.Fatalf("after assigning in the browser the patient has %+v, want the core program", got.Assignments)
	}
	if !b.has("main svg") {
		t.Error("the patient page shows no chart after the assignment")
	}
	b.check("assigned")
}

// sessionStatus is the status of the plan's walk on date, from the API.
func sessionStatus(t *testing.T, e *env, token string, assignment int64, date string) string {
	t.Helper()
	var plan struct {
		Weeks []struct {
			Activities []struct {
				ID       string `json:"id"`
				Sessions []struct {
					Date   string `json:"date"`
					Status string `json:"status"`
				} `json:"sessions"`
			} `json:"activities"`
		} `json:"weeks"`
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", assignment), token, "", 200, &plan)
	for _, w := range plan.Weeks {
		for _, a := range w.Activities {
			for _, s := range a.Sessions {
				if a.ID == "walk" && s.Date == date {
					return s.Status
				}
			}
		}
	}
	return ""
}

// The pages the security work added: a session's link and a confirmation
// link on a phone, the account page and the admin page; each accessible.
func TestBrowserSecurityPages(t *testing.T) {
	e := browserEnv(t)
	links, asg := browserPatient(t, e, e.TokenA, "S. L.")
	var feed struct {
		FeedURL string `json:"feed_url"`
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d", links.ID), e.TokenA, "", 200, &feed)
	_, urls, _ := feedEvents(t, e, feed.FeedURL)

	b := newTab(t, e)
	b.do("open a session's link on a 360×740 touch screen",
		chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(urls[0]))
	done := `button[name="status"][value="done"]`
	if !b.has(done) || b.has(`input[name="kind"]`) {
		t.Fatal("the session page lacks its Done button, or offers other check-ins")
	}
	b.check("session-link")
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil, chromedp.Tap(chromedp.CSS(done)))); err != nil {
		t.Fatalf("tap Done: %v", err)
	}
	if status := sessionStatus(t, e, e.TokenA, asg.ID, "2026-11-23"); status != "done" {
		t.Errorf("after tapping Done on the session's link: %q", status)
	}
	b.check("session-link-done")

	// A confirmation link, as an address the patient added receives it
	// (this server has no mail server, so the channel is stored directly).
	nonce := []byte("0123456789abcdef")
	confirm := e.Daemon.Clinic.Keys.ConfirmToken(nonce)
	if _, err := e.Store.SetChannels(t.Context(), links.ID, []store.Channel{{Type: "email", Config: []byte(`{"address":"new@example.org"}`),
		Pending: true, ConfirmNonce: nonce, ConfirmHash: store.HashToken(confirm)}}); err != nil {
		t.Fatal(err)
	}
	b.open("/confirm/" + confirm)
	if !strings.Contains(b.text(), "new@example.org") {
		t.Errorf("the confirmation page does not name the address:\n%s", b.text())
	}
	b.check("confirm-link")

	link, _ := therapistLink(t, e, "adm@example.org")
	a := newTab(t, e)
	a.setPassword(link, browserPassword)
	a.open("/account")
	a.check("account")
	if _, err := e.Store.CreateTherapist(t.Context(), "root@example.org", "Root", true); err != nil {
		t.Fatal(err)
	}
	root, _ := e.Store.TherapistByEmail(t.Context(), "root@example.org")
	tok, _ := store.NewToken()
	e.Store.CreateSetupToken(t.Context(), root.ID, store.HashToken(tok), e.Clock.Now().Add(time.Hour))
	r := newTab(t, e)
	r.setPassword("/setup/"+tok, browserPassword)
	r.open("/admin/therapists")
	if !strings.Contains(r.text(), "adm@example.org") {
		t.Error("the admin page does not list the therapists")
	}
	r.check("admin")
}
