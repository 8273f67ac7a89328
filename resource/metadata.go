package resource

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// Metadata is an RFC 9728 §2 protected resource metadata document.
type Metadata struct {
	Resource                              string   `json:"resource"`
	AuthorizationServers                  []string `json:"authorization_servers,omitempty"`
	ScopesSupported                       []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported                []string `json:"bearer_methods_supported"`
	ResourceName                          string   `json:"resource_name,omitempty"`
	ResourceDocumentation                 string   `json:"resource_documentation,omitempty"`
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPBoundAccessTokensRequired         bool     `json:"dpop_bound_access_tokens_required"`
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

// Metadata returns this resource's RFC 9728 metadata: its audience, its
// issuer, header-only tokens, the DPoP algorithms, and whether DPoP is
// required (true unless bearerAllowed).
func (rs *Resource) Metadata(scopes []string, bearerAllowed bool) Metadata {
	return Metadata{
		Resource:                      rs.cfg.Audience,
		AuthorizationServers:          rs.issuerIDs(),
		ScopesSupported:               scopes,
		BearerMethodsSupported:        []string{"header"},
		DPoPSigningAlgValuesSupported: rs.cfg.DPoP.Algorithms(),
		DPoPBoundAccessTokensRequired: !bearerAllowed,
	}
}

// issuerIDs lists the configured issuer identifiers (RFC 9728 §2
// authorization_servers).
func (rs *Resource) issuerIDs() []string {
	out := make([]string, len(rs.issuers))
	for i, e := range rs.issuers {
		out[i] = e.Issuer.Issuer
	}
	return out
}

// MetadataHandler serves m as JSON (RFC 9728 §3.2). Mount it at the path
// MetadataPath(m.Resource) returns.
func MetadataHandler(m Metadata) http.Handler {
	body, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings, slices and bools
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(body)
	})
}

// WellKnownPath is the RFC 9728 §3 well-known suffix.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// MetadataPath returns the path of the metadata of resource: the
// well-known segment followed by the resource's own path (RFC 9728 §3.1).
func MetadataPath(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return WellKnownPath
	}
	return WellKnownPath + strings.TrimSuffix(u.EscapedPath(), "/")
}

// ResourceMetadataURL returns the absolute URL of resource's metadata, for
// Config.ResourceMetadata.
func ResourceMetadataURL(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + MetadataPath(resource)
}
