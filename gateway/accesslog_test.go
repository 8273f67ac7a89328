package gateway_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/wardtest"
)

// TestAccessLog: with gateway.access_log, every request the gateway lets
// through is one INFO line with the log keys of docs/ARCHITECTURE.md and
// no token or proof; refusals are not access lines; without it, allowed
// requests log nothing at INFO.
func TestAccessLog(t *testing.T) {
	for _, on := range []bool{true, false} {
		var buf wardtest.SyncBuffer
		e := newEnvWith(t, func(c *config.Gateway) { c.AccessLog = on }, func(o *gateway.Options) {
			o.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		})
		tok := e.token(nil)
		if w := e.call("GET", "/orders/1", tok, nil); w.Code != http.StatusOK {
			t.Fatalf("allowed call: %d %s", w.Code, w.Body)
		}
		<-e.seen
		if w := e.call("GET", "/public/x", "", nil); w.Code != http.StatusOK {
			t.Fatalf("public call: %d", w.Code)
		}
		<-e.seen
		if w := e.call("GET", "/orders/1", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("refused call: %d", w.Code)
		}
		var access []string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, `msg=access`) {
				access = append(access, l)
			}
		}
		if !on {
			if len(access) != 0 {
				t.Fatalf("access_log off: %d access lines", len(access))
			}
			continue
		}
		if len(access) != 2 {
			t.Fatalf("access_log on: %d access lines, want 2:\n%s", len(access), buf.String())
		}
		for _, want := range []string{"level=INFO", "route=orders", "method=GET", "path=/orders/1", "status=200", "outcome=allowed",
			"client_id=app", "sub=alice", "jkt=" + e.signer.Thumbprint(), "remote=", "duration="} {
			if !strings.Contains(access[0], want) {
				t.Errorf("access line lacks %s: %s", want, access[0])
			}
		}
		if !strings.Contains(access[1], "outcome=public") {
			t.Errorf("public request: %s", access[1])
		}
		if strings.Contains(buf.String(), tok) || strings.Contains(buf.String(), tok[len(tok)-20:]) {
			t.Error("the access token was logged")
		}
	}
}

// TestRefusalLogBounded: a flood of one refusal writes the burst of 20
// lines, then 5 a second; the next line says how many were dropped;
// another reason still gets its line. Every refusal is still counted.
func TestRefusalLogBounded(t *testing.T) {
	var buf wardtest.SyncBuffer
	e := newEnvWith(t, nil, func(o *gateway.Options) { o.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	for range 50 {
		if w := e.call("GET", "/orders/1", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", w.Code)
		}
	}
	if n := strings.Count(buf.String(), `msg="request rejected"`); n != 20 {
		t.Fatalf("50 refusals wrote %d lines, want the burst of 20", n)
	}
	if w := e.call("GET", "/orders/1", e.token(map[string]any{"cnf": nil}), nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("unbound token: %d", w.Code)
	}
	if n := strings.Count(buf.String(), `msg="request rejected"`); n != 21 {
		t.Fatalf("another reason: %d lines, want 21", n)
	}
	if !strings.Contains(e.metrics(), `reason="no_token"} 50`) {
		t.Errorf("the metric does not count every refusal:\n%s", grep(e.metrics(), "no_token"))
	}
}
