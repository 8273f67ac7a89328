package resource_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
)

// A resource server accepting only DPoP-bound tokens from its
// authorization server, with a scope per route.
func Example() {
	proofs, err := dpop.NewVerifier(
		dpop.WithAllowedAlgorithms(dpop.ES256, dpop.EdDSA),
		dpop.WithBaseURL("https://api.example.com"), // the URL clients see
	)
	if err != nil {
		log.Fatal(err)
	}
	rs, err := resource.New(resource.Config{
		Issuer:           "https://as.example.com",
		Audience:         "https://api.example.com",
		DPoP:             proofs,
		ResourceMetadata: resource.ResourceMetadataURL("https://api.example.com"),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", rs.Require("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := resource.IdentityFrom(r.Context())
		fmt.Fprintf(w, "orders of %s (client %s, key %s)\n", id.Subject, id.ClientID, id.JKT)
	})))
	mux.Handle("POST /payments", rs.Require("payments:write")(http.NotFoundHandler()))
	mux.Handle(resource.MetadataPath("https://api.example.com"),
		resource.MetadataHandler(rs.Metadata([]string{"orders:read", "payments:write"}, false)))
	_ = mux // http.ListenAndServe(":8080", mux)
	fmt.Println(resource.MetadataPath("https://api.example.com"))
	// Output: /.well-known/oauth-protected-resource
}

// A resource server trusting two identity providers: Ward's own
// authorization server (RFC 9068 tokens, RFC 8414 discovery) and a
// Keycloak realm whose default access tokens are typ JWT (legacy-jwt,
// RS256, OpenID Connect discovery). The admin route takes Ward's tokens
// only; a token whose iss is neither is refused before any key fetch.
func ExampleIssuer() {
	proofs, err := dpop.NewVerifier(dpop.WithBaseURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	const keycloak = "https://sso.example.com/realms/shop"
	rs, err := resource.New(resource.Config{
		Audience: "https://api.example.com",
		DPoP:     proofs,
		Issuers: []resource.Issuer{
			{Name: "ward", Issuer: "https://as.example.com"},
			{
				Name: "keycloak", Issuer: keycloak,
				Keys:       resource.NewRemoteKeys(keycloak, resource.RemoteKeysOptions{Discovery: resource.DiscoveryOIDC}),
				Algorithms: []string{"RS256"},
				Profile:    resource.ProfileLegacyJWT,
				Claims:     resource.ClaimMapping{Client: []string{"azp"}},
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", rs.Require("orders:read")(http.NotFoundHandler()))
	mux.Handle("POST /admin", rs.Middleware(resource.Requirement{Scopes: []string{"admin"}, Issuers: []string{"ward"}})(http.NotFoundHandler()))
	for _, st := range rs.IssuerStatus() {
		fmt.Println(st.Name, st.Healthy())
	}
	// Output:
	// ward true
	// keycloak true
}
