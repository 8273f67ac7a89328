package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAlertRules runs `promtool check rules` on the alerting rules and
// `promtool test rules` on their unit tests (prometheus/ward-alerts_test.yml:
// each alert fires on the series that mean it and not on the look-alikes).
// The metric names they use are checked against Ward's registry by
// server's TestDashboardAndAlertMetricNames.
func TestAlertRules(t *testing.T) {
	promtool := needPromtool(t)
	for _, args := range [][]string{
		{"check", "rules", "ward-alerts.yml"},
		{"test", "rules", "ward-alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// needPromtool finds promtool (Debian's prometheus package) or skips,
// unless WARD_TEST_REQUIRE_PROMTOOL=1 (.ci/run sets it once it installed
// the package), which fails instead.
func needPromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	msg := "promtool not found (apt-get install prometheus)"
	if os.Getenv("WARD_TEST_REQUIRE_PROMTOOL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; set WARD_TEST_REQUIRE_PROMTOOL=1 to fail instead")
	return ""
}

// TestDashboardFiles: the Grafana dashboard and the rule files are where
// docs/OBSERVABILITY.md says.
func TestDashboardFiles(t *testing.T) {
	for _, f := range []string{"grafana/ward.json", "prometheus/ward-alerts.yml", "prometheus/ward-alerts_test.yml"} {
		if _, err := os.Stat(filepath.FromSlash(f)); err != nil {
			t.Error(err)
		}
	}
}
