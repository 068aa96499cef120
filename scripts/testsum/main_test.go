package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A real go test -json run of a module made here (go test puts its own go
// first in PATH): one test passes, one fails, three skip for a missing peer
// (one in a helper outside the test files), one subtest skips without a
// reason.
func TestSummary(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod": "module demo\n\ngo 1.26\n",
		"demo_test.go": `package demo

import (
	"os"
	"testing"
)

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) { t.Error("the answer is wrong") }

func TestNeedsPeerA(t *testing.T) {
	if os.Getenv("DEMO_PEER") == "" {
		t.Skip("set DEMO_PEER=1 to run against the peer")
	}
}

func TestNeedsPeerB(t *testing.T) {
	if os.Getenv("DEMO_PEER") == "" {
		t.Skip("set DEMO_PEER=1 to run against the peer")
	}
}

func TestParent(t *testing.T) {
	t.Run("quiet", func(t *testing.T) { t.SkipNow() })
}
`,
		"helper.go": `package demo

import "testing"

// needsPeer skips from a file that is not a test file, as a shared helper does.
func needsPeer(t *testing.T) {
	t.Run("peer", func(t *testing.T) { t.Skip("set DEMO_PEER=1 to run against the peer") })
}
`,
		"helper_test.go": `package demo

import "testing"

func TestThroughHelper(t *testing.T) { needsPeer(t) }
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-json", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEMO_PEER=", "GOFLAGS=-mod=mod")
	out, _ := cmd.Output() // exits 1: TestFails
	s, err := summarize(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	s.write(&w)
	got := w.String()
	if s.passed != 3 || s.failed != 1 || len(s.skipped) != 4 || s.brokenPackages != 0 {
		t.Errorf("passed %d, failed %d, skipped %d, broken %d; want 3 (TestPasses, TestParent, TestThroughHelper), 1, 4, 0:\n%s",
			s.passed, s.failed, len(s.skipped), s.brokenPackages, got)
	}
	for _, want := range []string{
		"FAIL\tdemo",
		"the answer is wrong",
		"skipped 4 tests:\n- (no reason given)\n    demo TestParent/quiet\n- set DEMO_PEER=1 to run against the peer\n",
		"    demo TestNeedsPeerA\n", "    demo TestNeedsPeerB\n", "    demo TestThroughHelper/peer\n",
		"\n3 passed, 1 failed, 4 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the summary lacks %q:\n%s", want, got)
		}
	}
}

// A package that does not build counts as broken, with the compiler's words.
func TestBuildFailure(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module demo\n\ngo 1.26\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "demo_test.go"), []byte("package demo\n\nfunc TestX(t *testing.T) { undefined() }\n"), 0o600)
	cmd := exec.Command("go", "test", "-json", "./...")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	s, err := summarize(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	s.write(&w)
	if s.brokenPackages != 1 || !strings.Contains(w.String(), "undefined") {
		t.Errorf("broken %d:\n%s", s.brokenPackages, w.String())
	}
}
