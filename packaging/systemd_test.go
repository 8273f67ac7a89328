package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wardauth/ward/internal/wardtest"
)

// TestSystemdUnit: packaging/ward.service keeps its hardening directives,
// and systemd-analyze verifies it without a word (an unknown or misspelt
// directive is only a warning there, so any output fails) and rates its
// exposure at most 2.0 of 10. The unit's /usr/local/bin/ward is replaced
// by a built binary, since verify checks that it exists.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("ward.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"CapabilityBoundingSet=\n", "AmbientCapabilities=\n", "PrivateTmp=yes", "PrivateDevices=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service", "SystemCallFilter=~@privileged",
		"MemoryDenyWriteExecute=yes", "StateDirectory=ward", "ExecStartPre=/usr/local/bin/ward config check --config /etc/ward/ward.yaml"} {
		if !bytes.Contains(unit, []byte("\n"+d)) {
			t.Errorf("ward.service lacks %q", strings.TrimSpace(d))
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd): the unit is not verified")
	}
	dir := t.TempDir()
	bin, err := wardtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ward.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/ward"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	score := regexp.MustCompile(`Overall exposure level for ward.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || score == nil {
		t.Fatalf("systemd-analyze security (exposure at most 2.0): %v\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s (0 = fully sandboxed, 10 = not at all)", score[1])
}
