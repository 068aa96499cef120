package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are stamped at link time by scripts/release
// (-ldflags "-X main.version=v1.2.0 -X main.commit=<git commit>"). They are
// the only package variables in pacer, because the linker can set nothing
// else; a plain go build leaves them empty and buildInfo falls back to what
// the Go toolchain recorded.
var (
	version string
	commit  string
)

// build is what a binary knows about where it came from.
type build struct {
	Version   string // v1.2.0, a module version, or "devel"
	Commit    string // the git commit, "-dirty" when the tree had changes; "unknown" when not recorded
	GoVersion string // the Go release it was built with, e.g. go1.26.8
	Platform  string // GOOS/GOARCH
}

// buildInfo reads the stamped version and commit, else what the toolchain
// recorded (the main module's version when built with go install
// pacer@version, and vcs.revision when built with -buildvcs in a git checkout).
func buildInfo() build {
	b := build{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		if b.Commit == "" {
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if b.Commit != "" && modified {
				b.Commit += "-dirty"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

func (b build) String() string {
	return fmt.Sprintf("pacer %s (commit %s, %s, %s)", b.Version, b.Commit, b.GoVersion, b.Platform)
}

// versionCmd handles pacer version (and pacer --version).
func (c *cli) versionCmd(ctx context.Context, args []string) error {
	fs := newFlags(c, "version", "pacer version")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("version takes no arguments, not %s", strings.Join(pos, " "))
	}
	fmt.Fprintln(c.stdout, buildInfo())
	return nil
}
