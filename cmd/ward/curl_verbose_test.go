package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/dpop"
)

// TestCurlVerbose: ward curl -v shows on stderr, like curl -v, each
// proof it sent (header with the jwk, claims with htm, htu, ath and then
// the nonce), the server's nonce and challenge (use_dpop_nonce) and the
// retry; the token itself is never shown, and stdout holds only the body.
func TestCurlVerbose(t *testing.T) {
	_, _, data := tokenServer(t)
	api, _ := apiServer(t)
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	_, tok, _ := runCLI(t, "token", "--dev", "--data", data, "--key-file", keyFile)
	tok = strings.TrimSpace(tok)
	code, out, errs := runCLI(t, "curl", "-v", "--token", tok, "--key-file", keyFile, api.URL+"/x")
	if code != 0 || out != "GET /x  ct= x=" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
	}
	for _, want := range []string{
		"> GET " + api.URL + "/x",
		"> Authorization: DPoP [",
		`> DPoP: proof header {"typ":"dpop+jwt","alg":"ES256","jwk":{`,
		`"htm":"GET","htu":"` + api.URL + `/x"`,
		`"ath":"` + dpop.ATH(tok) + `"`,
		"< HTTP/1.1 401 Unauthorized",
		"< DPoP-Nonce: n1",
		`< WWW-Authenticate: DPoP error="use_dpop_nonce"`,
		"the server asked for a nonce (use_dpop_nonce): the request is sent again with it",
		`"nonce":"n1"`,
		`the proof carries the server's nonce "n1"`,
		"< HTTP/1.1 200 OK",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, tok) {
		t.Error("-v printed the access token")
	}
	// The token request is traced as well when ward curl obtains one.
	code, _, errs = runCLI(t, "curl", "-v", "--dev", "--data", data, api.URL+"/x")
	if code != 0 || !strings.Contains(errs, "> POST ") || !strings.Contains(errs, `"htm":"POST"`) ||
		!strings.Contains(errs, "< HTTP/1.1 400 Bad Request") || !strings.Contains(errs, "< error=use_dpop_nonce") {
		t.Fatalf("exit %d, token request and its nonce round trip not traced:\n%s", code, errs)
	}
	if strings.Contains(errs, `"access_token"`) {
		t.Fatal("-v printed the token response")
	}
}

// TestProofCommand: ward proof METHOD URL prints a proof that Ward's
// verifier accepts for that request, signed with the key of --key-file
// (the key ward token --key-file keeps), with ath and nonce when given.
func TestProofCommand(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	code, out, errs := runCLI(t, "proof", "--key-file", keyFile, "--token", "tok-1", "--nonce", "n-1", "post", "https://api.example/things?q=1")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	key, err := client.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := dpop.Thumbprint(key.Public())
	v, err := dpop.NewVerifier(dpop.WithClock(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{strings.TrimSpace(out)}, Method: "POST", URL: "https://api.example/things", AccessToken: "tok-1"})
	if err != nil {
		t.Fatalf("the verifier refuses the proof: %v", err)
	}
	if p.Thumbprint != jkt || p.Nonce != "n-1" {
		t.Fatalf("proof jkt %s nonce %q, want %s n-1", p.Thumbprint, p.Nonce, jkt)
	}
	// Without a key file: a fresh key, said on stderr.
	code, _, errs = runCLI(t, "proof", "GET", "https://api.example/")
	if code != 0 || !strings.Contains(errs, "new in-memory key") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if code, _, _ = runCLI(t, "proof", "GET"); code != 2 {
		t.Fatalf("one argument: exit %d, want 2", code)
	}
}
