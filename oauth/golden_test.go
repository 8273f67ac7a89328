package oauth

import (
	"errors"
	"flag"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestWriteJSONGolden: the bytes a client of the authorization server
// parses for representative errors (RFC 6749 §5.2, RFC 9449 §8, RFC 6585
// §4 and RFC 9110 §10.2.3 for Retry-After), compared with
// testdata/writejson/<name>.txt (-update rewrites them).
func TestWriteJSONGolden(t *testing.T) {
	for name, err := range map[string]error{
		"invalid_request":         New(InvalidRequest, "missing grant_type"),
		"invalid_client":          New(InvalidClient, "client authentication failed"),
		"invalid_grant":           New(InvalidGrant, "the code was used before"),
		"invalid_dpop_proof":      &Error{Code: InvalidDPoPProof, Description: "htu does not match", Status: 400},
		"use_dpop_nonce":          &Error{Code: UseDPoPNonce, Description: "Authorization server requires nonce in DPoP proof", Status: 400, DPoPNonce: "eyJ7S_zG.eyJH0-Z.HX4w-7v"},
		"temporarily_unavailable": &Error{Code: TemporarilyUnavailable, Description: "try again shortly", Status: 503, RetryAfter: 1},
		"rate_limited":            &Error{Code: RateLimited, Description: "too many requests", Status: 429, RetryAfter: 30},
		"slow_down":               New(SlowDown, "polling too fast"),
		"server_error_hidden":     errors.New("pq: connection refused to 10.0.0.5"),
		"description_escaped":     New(InvalidScope, `scope "<admin>" & café`),
		"no_description":          &Error{Code: UnsupportedGrantType, Status: 400},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteJSON(rec, err)
			golden.Check(t, filepath.Join("testdata", "writejson", name+".txt"), golden.Response(rec), *update)
		})
	}
}

// TestWriteChallengeGolden: the challenges and bodies a client of a
// resource server parses (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1),
// compared with testdata/challenge/<name>.txt (-update rewrites them).
func TestWriteChallengeGolden(t *testing.T) {
	const meta = "https://api.example/.well-known/oauth-protected-resource/orders"
	dpopOnly := Challenge{DPoPAlgs: []string{"ES256", "EdDSA"}, ResourceMetadata: meta}
	both := Challenge{DPoPAlgs: []string{"ES256"}, Bearer: true, ResourceMetadata: meta}
	for name, c := range map[string]struct {
		err    error
		ch     Challenge
		scheme string
	}{
		"no_credentials":           {&Error{}, both, ""},
		"no_credentials_dpop_only": {&Error{}, dpopOnly, ""},
		"invalid_token_dpop":       {&Error{Code: InvalidToken, Description: "Invalid DPoP key binding", Status: 401}, dpopOnly, "DPoP"},
		"invalid_token_bearer":     {&Error{Code: InvalidToken, Description: "the token has expired", Status: 401}, both, "Bearer"},
		"invalid_dpop_proof":       {&Error{Code: InvalidDPoPProof, Description: "proof replayed", Status: 401}, both, "Bearer"},
		"use_dpop_nonce":           {&Error{Code: UseDPoPNonce, Description: "Resource server requires nonce in DPoP proof", Status: 401, DPoPNonce: "eyJ7S_zG.eyJbYu3.xQmBj-1"}, dpopOnly, "DPoP"},
		"insufficient_scope":       {&Error{Code: InsufficientScope, Description: "needs orders:write", Scope: "orders:write"}, dpopOnly, "DPoP"},
		"temporarily_unavailable":  {&Error{Code: TemporarilyUnavailable, Description: "the replay store cannot be reached", Status: 503, RetryAfter: 1}, dpopOnly, "DPoP"},
		"rate_limited":             {&Error{Code: RateLimited, Description: "too many requests", Status: 429, RetryAfter: 12}, both, "DPoP"},
		"realm_escaped":            {&Error{Code: InvalidToken, Description: "bad \"token\"\r\n", Status: 401}, Challenge{DPoPAlgs: []string{"ES256"}, Realm: `api "one"`}, "DPoP"},
		"server_error_hidden":      {errors.New("redis: i/o timeout"), dpopOnly, "DPoP"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteChallenge(rec, c.err, c.ch, c.scheme)
			golden.Check(t, filepath.Join("testdata", "challenge", name+".txt"), golden.Response(rec), *update)
		})
	}
}
