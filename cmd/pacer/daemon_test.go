package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildPacer builds the pacer binary for tests that run it as a process.
func buildPacer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pacer")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// notifySocket listens where systemd would for sd_notify messages.
func notifySocket(t *testing.T, dir string) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

// await returns the first message that contains want.
func await(t *testing.T, msgs <-chan string, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q from pacer within %s", want, within)
		}
	}
}

// The daemon as systemd runs it: READY=1 once it serves, WATCHDOG=1 while the
// store answers, and on SIGTERM it stops accepting, finishes the request in
// flight and exits 0 well within 10 s.
func TestDaemonNotifiesAndStopsGracefullyOnSIGTERM(t *testing.T) {
	bin := buildPacer(t)
	dir := t.TempDir()
	sock, msgs := notifySocket(t, dir)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--demo")
	cmd.Env = []string{"STATE_DIRECTORY=" + dir, "NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=100000", "TZ=UTC", "PATH=" + os.Getenv("PATH")}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "pacer listening on") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	m := listening.FindStringSubmatch(out.String())
	checkin := regexp.MustCompile(`check-in page:\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil || checkin == nil {
		t.Fatalf("no links in:\n%s\n%s", out.String(), stderr.String())
	}
	addr := strings.TrimPrefix(m[1], "http://")

	await(t, msgs, "READY=1", 10*time.Second)
	for range 3 {
		await(t, msgs, "WATCHDOG=1", 2*time.Second)
	}

	// A check-in whose body is only half sent when SIGTERM arrives.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"kind":"daily","pain":3}`
	path := checkin[1][strings.Index(checkin[1], "/c/"):] + "/checkins"
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the handler is now reading the body
	termAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	await(t, msgs, "STOPPING=1", 5*time.Second)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // no longer accepting
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after SIGTERM")
		}
	}
	fmt.Fprint(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight: %s", resp.Status)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10*time.Second - time.Since(termAt)):
		t.Fatal("pacer did not exit within 10 s of SIGTERM")
	}

	// The log is JSON, and holds no capability token.
	logs := stderr.String()
	tok := checkin[1][strings.LastIndexByte(checkin[1], '/')+1:]
	if strings.Contains(logs, tok) || !strings.Contains(logs, `"msg":"shutting down"`) {
		t.Errorf("log:\n%s", logs)
	}
}

// With pacer.socket, systemd binds the address and passes the socket;
// systemd-socket-activate does the same.
func TestSocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian: apt-get install systemd)")
	}
	bin := buildPacer(t)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(activate, "--listen", addr, "-E", "STATE_DIRECTORY="+dir, "-E", "PACER_LISTEN=127.0.0.1:1", bin, "serve")
	var stderr syncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var code int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
			break
		}
	}
	if code != 200 {
		t.Fatalf("/readyz through the passed socket: %d\n%s", code, stderr.String())
	}
	// The output reaches the buffer through a pipe, maybe after the answer.
	served := func() bool {
		out := stderr.String()
		return strings.Contains(out, "pacer listening on http://"+addr) && strings.Contains(out, `"msg":"socket activation"`)
	}
	for deadline := time.Now().Add(5 * time.Second); !served() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !served() {
		t.Errorf("pacer did not serve the passed socket:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, stderr.String())
	}
}
