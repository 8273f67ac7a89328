package authz

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/pkce"
)

// logLines are the lines of the harness's log whose message is msg.
func logLines(h *harness, msg string) []string {
	var out []string
	for _, l := range strings.Split(h.log.String(), "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestRefusalLogWrongPassword: a wrong password is logged at INFO with
// its outcome and the client's address, never the username or the
// password typed.
func TestRefusalLogWrongPassword(t *testing.T) {
	h := newHarness(t)
	v, _ := pkce.NewVerifier()
	b := h.newBrowser()
	page := b.get(h.issuer + PathAuthorize + "?" + authParams("web", webRedirect, pkce.Challenge(v)).Encode())
	if r := b.login(page, "alice", "Gu3ss-Sekr3t"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	lines := logLines(h, "login refused")
	if len(lines) != 1 {
		t.Fatalf("%d login lines, want 1:\n%s", len(lines), h.log.String())
	}
	l := lines[0]
	for _, want := range []string{"level=INFO", "reason=" + loginWrongCredentials, "ip=127.0.0.1"} {
		if !strings.Contains(l, want) {
			t.Errorf("line lacks %s: %s", want, l)
		}
	}
	if strings.Contains(h.log.String(), "Gu3ss-Sekr3t") || strings.Contains(l, "alice") {
		t.Errorf("the password or username was logged: %s", l)
	}
}

// TestRefusalLogReplayedProof: a proof replayed at /token is logged at
// WARN (RFC 9449 §11.1), without the proof or any token; a flood of
// replays writes the burst (20 lines), then 5 a second, and the next line
// says how many were dropped.
func TestRefusalLogReplayedProof(t *testing.T) {
	h := newHarness(t)
	proof := h.proof(h.newSigner())
	send := func() *response {
		f := url.Values{"grant_type": {"client_credentials"}}
		return h.post(PathToken, f, append(h.auth("post", f), "DPoP", proof)...)
	}
	ok := send()
	wantToken(t, ok)
	for range 50 {
		wantError(t, send(), http.StatusBadRequest, "invalid_dpop_proof")
	}
	lines := logLines(h, "dpop proof refused")
	if len(lines) != 20 {
		t.Fatalf("50 replays wrote %d lines, want the burst of 20", len(lines))
	}
	for _, want := range []string{"level=WARN", "reason=replayed", "path=/token", "ip=127.0.0.1"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line lacks %s: %s", want, lines[0])
		}
	}
	h.clk.Advance(time.Second)
	wantError(t, send(), http.StatusBadRequest, "invalid_dpop_proof")
	lines = logLines(h, "dpop proof refused")
	if len(lines) != 21 || !strings.Contains(lines[20], "suppressed=30") {
		t.Fatalf("after a second: %d lines, last %q; want 21, suppressed=30", len(lines), lines[len(lines)-1])
	}
	log := h.log.String()
	for _, secret := range []string{proof, ok.str("access_token"), h.secrets["post"]} {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("the log holds a secret: %.20s...", secret)
		}
	}
}
