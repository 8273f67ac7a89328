package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store/redisstore"
)

const (
	dashboardFile = "../packaging/grafana/ward.json"
	alertsFile    = "../packaging/prometheus/ward-alerts.yml"
)

// TestDashboardAndAlertMetricNames: every metric name a PromQL expression
// of the Grafana dashboard or of the alerting rules references is one
// that Ward registers, so a renamed or dropped metric fails here instead
// of leaving an empty panel or an alert that never fires. The names are
// probed on the registry of a dev process (authorization server, gateway,
// BFF, revocation feed) with the Redis metrics added: registering a probe
// under a name the registry holds fails, even for a vector with no series
// yet.
func TestDashboardAndAlertMetricNames(t *testing.T) {
	reg := processRegistry(t)
	exprs := map[string][]string{dashboardFile: dashboardExprs(t), alertsFile: alertExprs(t)}
	for file, list := range exprs {
		if len(list) < 10 {
			t.Fatalf("%s: %d expressions, want the whole file's", file, len(list))
		}
		for _, e := range list {
			names := metricNames(e)
			if len(names) == 0 {
				t.Errorf("%s: %q references no ward_ metric", file, e)
			}
			for _, n := range names {
				if !registered(reg, n) {
					t.Errorf("%s: %s is not a metric Ward registers (in %q)", file, n, e)
				}
			}
		}
	}
}

// processRegistry opens a dev process (no listener) and returns its one
// registry, with the Redis metrics of a store that never connects.
func processRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	t.Setenv(config.EnvStoreDSN, "")
	t.Setenv(config.EnvKeyEncryptionKey, "")
	t.Setenv(config.EnvDPoPNonceSecret, "")
	cfg := config.Dev(t.TempDir())
	p, err := openProcess(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	rs, err := redisstore.New(redisstore.Config{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	registerRedisMetrics(p.reg, rs)
	return p.reg
}

// registered reports whether reg holds a metric named name (a histogram's
// _bucket, _sum and _count series are its name's).
func registered(reg *prometheus.Registry, name string) bool {
	probe := func(n string) bool {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: n, Help: "probe"})
		if err := reg.Register(g); err != nil {
			return true
		}
		reg.Unregister(g)
		return false
	}
	if probe(name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && probe(base) {
			return true
		}
	}
	return false
}

var metricName = regexp.MustCompile(`\bward_[a-z0-9_]+`)

// metricNames are the ward_ metric names of a PromQL expression.
func metricNames(expr string) []string {
	names := metricName.FindAllString(expr, -1)
	slices.Sort(names)
	return slices.Compact(names)
}

// dashboardExprs are the expr of every target of every panel, and the
// query of every variable.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			out = append(out, q)
		}
	}
	return out
}

// alertExprs are the expr of every rule of every group.
func alertExprs(t *testing.T) []string {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}
