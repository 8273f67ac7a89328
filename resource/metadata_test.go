package resource_test

import (
	"flag"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/golden"
	"github.com/wardauth/ward/resource"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestMetadataGolden: the RFC 9728 §3.2 responses a client parses to find
// the authorization servers and the DPoP algorithms of a resource, for a
// DPoP-only resource with one issuer and a resource that also takes
// bearer tokens from two issuers, compared with
// testdata/metadata/<name>.txt (-update rewrites them).
func TestMetadataGolden(t *testing.T) {
	v, err := dpop.NewVerifier(dpop.WithAllowedAlgorithms(dpop.ES256, dpop.EdDSA))
	if err != nil {
		t.Fatal(err)
	}
	keys := resource.StaticKeys{}
	for name, c := range map[string]struct {
		cfg    resource.Config
		scopes []string
		bearer bool
	}{
		"dpop_only": {resource.Config{Issuer: "https://as.example", Audience: "https://api.example/orders", Keys: keys, DPoP: v},
			[]string{"orders:read", "orders:write"}, false},
		"bearer_two_issuers": {resource.Config{Audience: "https://api.example/", DPoP: v, Issuers: []resource.Issuer{
			{Issuer: "https://as.example", Keys: keys}, {Issuer: "https://login.partner.example/tenant", Keys: keys}}},
			nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			rs, err := resource.New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := rs.Metadata(c.scopes, c.bearer)
			rec := httptest.NewRecorder()
			resource.MetadataHandler(m).ServeHTTP(rec, httptest.NewRequest("GET", resource.MetadataPath(m.Resource), nil))
			golden.Check(t, filepath.Join("testdata", "metadata", name+".txt"), golden.Response(rec), *update)
		})
	}
}
