package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; it
// wins over the module version of the build info.
var version = ""

func init() {
	register(command{name: "version", summary: "print the version, the VCS revision and the Go toolchain", run: func(_ context.Context, _ []string, stdout, _ io.Writer) error {
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionLine(bi, version))
		return nil
	}})
}

// versionLine is `ward VERSION, revision REV[+dirty] (TIME), GO OS/ARCH`:
// the module version (or the -X override), and the VCS revision, its
// modification flag and commit time that `go build` stamps into the
// binary (runtime/debug.BuildInfo). A binary without a VCS stamp (go run,
// test binaries, -buildvcs=false) says so rather than inventing one.
func versionLine(bi *debug.BuildInfo, override string) string {
	v := override
	settings := map[string]string{}
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if v == "" {
		v = "(devel)"
	}
	rev := "revision unknown (no VCS stamp: build with go build -buildvcs=true in a git checkout)"
	if r := settings["vcs.revision"]; r != "" {
		if len(r) > 12 {
			r = r[:12]
		}
		if settings["vcs.modified"] == "true" {
			r += "+dirty"
		}
		rev = "revision " + r
		if t := settings["vcs.time"]; t != "" {
			rev += " (" + t + ")"
		}
	}
	return strings.Join([]string{"ward " + v, rev, runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}, ", ")
}
