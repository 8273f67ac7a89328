package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/dpop"
)

// apiServer is a resource server that demands a nonce (401
// use_dpop_nonce), then checks the proof (ath included) with Ward's
// verifier and echoes what it received.
func apiServer(t *testing.T) (*httptest.Server, *int) {
	v, err := dpop.NewVerifier()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme != "DPoP" {
			w.Header().Set("WWW-Authenticate", `DPoP algs="ES256"`)
			w.WriteHeader(401)
			return
		}
		p, err := v.VerifyHTTP(r.Context(), r, tok, "")
		if err != nil {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`DPoP error="invalid_dpop_proof", error_description=%q`, err.Error()))
			w.WriteHeader(401)
			return
		}
		if p.Nonce != "n1" {
			w.Header().Set("DPoP-Nonce", "n1")
			w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="nonce required"`)
			w.WriteHeader(401)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Jkt", p.Thumbprint)
		fmt.Fprintf(w, "%s %s %s ct=%s x=%s", r.Method, r.URL.Path, body, r.Header.Get("Content-Type"), r.Header.Get("X-Test"))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCurl(t *testing.T) {
	_, _, data := tokenServer(t)
	api, calls := apiServer(t)
	keyFile := filepath.Join(t.TempDir(), "k.pem")

	// Obtains a token (dev credentials), retries on the nonce, replays the
	// body, sends headers.
	code, out, errs := runCLI(t, "curl", "--dev", "--data", data, "--key-file", keyFile, "-X", "PUT", "-H", "X-Test: yes", "-d", "a=1", "-i", api.URL+"/things")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, "PUT /things a=1 ct=application/x-www-form-urlencoded x=yes") {
		t.Fatalf("output %q", out)
	}
	if *calls != 2 {
		t.Fatalf("%d calls, want 2 (nonce retry)", *calls)
	}
	key, err := client.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := dpop.Thumbprint(key.Public())
	if !strings.Contains(out, "X-Seen-Jkt: "+jkt) {
		t.Fatalf("the proof was not signed with the key file's key: %q", out)
	}

	// A given token with its key.
	_, tok, _ := runCLI(t, "token", "--dev", "--data", data, "--key-file", keyFile)
	code, out, errs = runCLI(t, "curl", "--token", strings.TrimSpace(tok), "--key-file", keyFile, api.URL+"/x")
	if code != 0 || out != "GET /x  ct= x=" {
		t.Fatalf("exit %d out %q err %s", code, out, errs)
	}

	// Usage errors.
	if code, _, errs = runCLI(t, "curl", "--token", "t", api.URL); code != 2 || !strings.Contains(errs, "--key-file") {
		t.Fatalf("--token without key: exit %d %q", code, errs)
	}
	if code, _, _ = runCLI(t, "curl"); code != 2 {
		t.Fatalf("no URL: exit %d", code)
	}
	if code, _, errs = runCLI(t, "curl", "--token", "t", "--key-file", keyFile, "-H", "nocolon", api.URL); code != 2 {
		t.Fatalf("bad header: exit %d %q", code, errs)
	}
}

// TestCurlShowsRefusal: a 401 prints the challenge's error and -f makes it
// exit 1.
func TestCurlShowsRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", error_description="the token expired"`)
		w.WriteHeader(401)
	}))
	defer srv.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kf := filepath.Join(t.TempDir(), "k.pem")
	client.SaveKey(kf, k)
	code, _, errs := runCLI(t, "curl", "-f", "--token", "t", "--key-file", kf, srv.URL)
	if code != 1 || !strings.Contains(errs, "invalid_token: the token expired") {
		t.Fatalf("exit %d stderr %q", code, errs)
	}
	code, _, _ = runCLI(t, "curl", "--token", "t", "--key-file", kf, srv.URL)
	if code != 0 {
		t.Fatalf("without -f: exit %d, want 0 as curl", code)
	}
}
