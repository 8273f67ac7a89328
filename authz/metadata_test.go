package authz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestMetadata compares the discovery document with a golden file
// (-update rewrites it) and checks the JWKS.
func TestMetadata(t *testing.T) {
	h := newHarness(t)
	r := h.do(h.srv.Client(), mustReq(t, h.issuer+PathMetadata))
	if r.status != 200 {
		t.Fatal(r.status)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(normaliseIssuer(m, h.issuer), "", "  ")
	golden := filepath.Join("testdata", "metadata.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("metadata differs from %s (run with -update):\n%s", golden, got)
	}
	jr := h.do(h.srv.Client(), mustReq(t, h.issuer+PathJWKS))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jr.body, &set); err != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
		t.Fatalf("jwks: %s", jr.body)
	}
}
