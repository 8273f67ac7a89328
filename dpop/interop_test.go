package dpop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

// interopDir holds the pinned npm packages (interop/package.json); .ci/run
// installs them with npm ci.
var interopDir = wardtest.InteropDir

// needNode returns node, or skips the test without it or pkgs.
var needNode = wardtest.NeedNode

// TestInteropNpmDPoPProofsVerify: proofs made by the npm package dpop verify
// with Ward's Verifier, with the thumbprint the npm package computes.
func TestInteropNpmDPoPProofsVerify(t *testing.T) {
	node := needNode(t, "dpop")
	const htu, token = "https://as.example.com/token", "npm-access-token"
	out, err := exec.Command(node, filepath.Join(interopDir, "dpop-proofs.mjs"), "POST", htu, "server-nonce", token).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var r struct{ Alg, Proof, JKT string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		n++
		t.Run(r.Alg, func(t *testing.T) {
			v, _ := NewVerifier()
			p, err := v.Verify(context.Background(), Request{
				Proofs: []string{r.Proof}, Method: "POST", URL: htu, AccessToken: token, JKT: r.JKT,
			})
			if err != nil {
				t.Fatalf("npm dpop %s proof refused: %v", r.Alg, err)
			}
			if p.Thumbprint != r.JKT || p.Nonce != "server-nonce" {
				t.Fatalf("thumbprint %s (npm %s), nonce %q", p.Thumbprint, r.JKT, p.Nonce)
			}
		})
	}
	if n != 4 {
		t.Fatalf("%d proofs from node, want 4", n)
	}
}

// TestInteropJoseVerifiesWardProofs: proofs made by Ward verify with the npm
// package jose (jwtVerify with the embedded JWK, typ checked), which computes
// the same thumbprint.
func TestInteropJoseVerifiesWardProofs(t *testing.T) {
	node := needNode(t, "jose")
	const htu = "https://api.example.com/v1/things"
	var in bytes.Buffer
	type want struct{ alg, jkt string }
	var wants []want
	for _, alg := range []string{ES256, ES384, ES512, EdDSA, PS256, RS256} {
		key, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := NewSigner(key, WithSigningAlgorithm(alg))
		p, err := s.Proof("GET", htu+"?x=1", WithAccessToken(testToken))
		if err != nil {
			t.Fatal(err)
		}
		json.NewEncoder(&in).Encode(map[string]string{"proof": p})
		wants = append(wants, want{alg, s.Thumbprint()})
	}
	cmd := exec.Command(node, filepath.Join(interopDir, "jose-verify.mjs"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for _, w := range wants {
		var r struct {
			OK                             bool
			Alg, JKT, HTM, HTU, ATH, Error string
			IAT                            int64
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: reading node's answer: %v", w.alg, err)
		}
		if !r.OK {
			t.Errorf("%s: jose refused Ward's proof: %s", w.alg, r.Error)
			continue
		}
		if r.Alg != w.alg || r.JKT != w.jkt || r.HTM != "GET" || r.HTU != htu || r.ATH != ATH(testToken) ||
			time.Since(time.Unix(r.IAT, 0)).Abs() > time.Minute {
			t.Errorf("%s: jose read %+v, want jkt %s", w.alg, r, w.jkt)
		}
	}
}
