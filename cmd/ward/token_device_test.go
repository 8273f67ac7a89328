package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var shownCode = regexp.MustCompile(`enter the code\n\n  ([A-Z]{4}-[A-Z]{4})\n`)

// TestTokenDevice: `ward token --device` prints the URL and the code,
// waits while the person approves elsewhere, and prints a DPoP-bound
// token whose key is the one it polled with.
func TestTokenDevice(t *testing.T) {
	as := authztest.New(t, authztest.Options{
		Clients: []store.Client{{ID: "tv", AuthMethod: oauth.AuthNone, GrantTypes: []oauth.GrantType{oauth.GrantDeviceCode},
			Scopes: []string{"read"}, Audiences: []string{"https://api.example"}}},
		Users: []authztest.User{{Subject: "u-alice", Username: "alice", Password: cliTestPassword}},
		Config: func(c *config.Config) {
			c.DeviceAuthorization = config.DeviceAuthorization{Enabled: true, Interval: time.Second}
		},
	})
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"token", "--issuer", as.URL, "--client-id", "tv", "--device", "--scope", "read", "--json", "--timeout", "30s"}, &out, &errb)
	}()
	var code string
	for range 200 {
		if m := shownCode.FindStringSubmatch(errb.String()); m != nil {
			code = m[1]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code == "" {
		t.Fatalf("no code shown: %q", errb.String())
	}
	if !strings.Contains(errb.String(), as.URL+"/device\n") || !strings.Contains(errb.String(), "?user_code="+code) || strings.Contains(errb.String(), "█") {
		t.Fatalf("shown: %q", errb.String())
	}
	if err := wardtest.DeviceApprove(as.URL, strings.ToLower(code), "alice", cliTestPassword, "allow"); err != nil {
		t.Fatal(err)
	}
	if rc := <-done; rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	checkCLIOutput(t, []string{"token", "--device"}, out.String()+errb.String())
	var got map[string]any
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatal(err)
	}
	cl := claimsOf(t, got["access_token"].(string))
	cnf, _ := cl["cnf"].(map[string]any)
	if got["token_type"] != "DPoP" || cl["sub"] != "u-alice" || cnf["jkt"] != got["jkt"] {
		t.Fatalf("output %v claims %v", got, cl)
	}
}

// TestShowDeviceCodeQR: on a terminal the link is also a QR code, made
// of half blocks, square, with the quiet zone.
func TestShowDeviceCodeQR(t *testing.T) {
	var b bytes.Buffer
	showDeviceCode(&b, &client.DeviceAuthorization{UserCode: "BCDF-GHJK", VerificationURI: "https://as.example/device",
		VerificationURIComplete: "https://as.example/device?user_code=BCDF-GHJK", ExpiresIn: 600}, true)
	s := b.String()
	if !strings.Contains(s, "  BCDF-GHJK\n") || !strings.Contains(s, "or scan:") {
		t.Fatalf("%q", s)
	}
	q := qrText("https://as.example/device?user_code=BCDF-GHJK")
	lines := strings.Split(strings.TrimRight(q, "\n"), "\n")
	width := len([]rune(lines[0])) - 2
	// A version-3 code is 29 modules, plus 2 quiet modules each side.
	if width != 33 || len(lines) != (width+1)/2 || !strings.HasPrefix(lines[0], "  ██") {
		t.Fatalf("QR %d wide, %d lines:\n%s", width, len(lines), q)
	}
}
