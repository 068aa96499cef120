package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	out, errs, code := pacer(t, "version")
	// A test binary is not stamped: the version is devel and the commit
	// unknown, and the Go release is the one running the test.
	want := "pacer devel (commit unknown, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if code != 0 || out != want {
		t.Errorf("pacer version: %d %q %q, want %q", code, out, errs, want)
	}
	if out2, _, code := pacer(t, "--version"); code != 0 || out2 != out {
		t.Errorf("pacer --version: %d %q, want %q", code, out2, out)
	}
	if _, errs, code := pacer(t, "version", "extra"); code != 2 || !strings.Contains(errs, "version takes no arguments") {
		t.Errorf("pacer version extra: %d %q", code, errs)
	}
	if out, _, _ := pacer(t, "help"); !strings.Contains(out, "version ") {
		t.Errorf("help does not list version:\n%s", out)
	}
}

// A stamped build reports what scripts/release passed to the linker.
func TestVersionStamped(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.0", "0123456789abcdef0123456789abcdef01234567"
	b := buildInfo()
	if b.Version != "v1.2.0" || b.Commit != commit || b.GoVersion != runtime.Version() {
		t.Errorf("stamped build: %+v", b)
	}
}
