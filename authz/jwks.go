package authz

import (
	"encoding/json"
	"net/http"
)

// handleJWKS publishes the signing keys (RFC 7517 §5): the current key,
// the next one before it signs and retired ones until their last token
// expires (package keys).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short enough that a verifier learns a new key well within
	// keys.publish_ahead.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(s.km.JWKS(s.now()))
}
