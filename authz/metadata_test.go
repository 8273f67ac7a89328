package authz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/config"
)

// TestMetadata compares the discovery document with a golden file
// (-update rewrites it) and checks the JWKS.
func TestMetadata(t *testing.T) {
	h := newHarness(t)
	checkMetadataGolden(t, h, "metadata.golden.json")
	jr := h.do(h.srv.Client(), mustReq(t, h.issuer+PathJWKS))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jr.body, &set); err != nil || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
		t.Fatalf("jwks: %s", jr.body)
	}
}

// TestMetadataRegistration: with registration on, the document adds
// registration_endpoint (RFC 8414 §2) and the registration scopes.
func TestMetadataRegistration(t *testing.T) {
	h := newHarness(t, withRegistration(false), func(c *config.Config) { c.Registration.Scopes = []string{"openid", "mcp:tools"} })
	checkMetadataGolden(t, h, "metadata_registration.golden.json")
}

func checkMetadataGolden(t *testing.T, h *harness, name string) {
	t.Helper()
	r := h.do(h.srv.Client(), mustReq(t, h.issuer+PathMetadata))
	if r.status != 200 {
		t.Fatal(r.status)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(normaliseIssuer(m, h.issuer), "", "  ")
	golden := filepath.Join("testdata", name)
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
}
