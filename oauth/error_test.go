package oauth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, New(InvalidGrant, "the code was used before"))
	if rec.Code != 400 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"error":"invalid_grant","error_description":"the code was used before"}` {
		t.Fatalf("body %s", got)
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, errors.New("database is on fire"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "fire") {
		t.Fatalf("internal error leaked: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, &Error{Code: UseDPoPNonce, Description: "d", Status: 400, DPoPNonce: "n1"})
	if rec.Header().Get("DPoP-Nonce") != "n1" {
		t.Fatal("no DPoP-Nonce")
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, New(InvalidClient, "bad secret"))
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("invalid_client: %d %v", rec.Code, rec.Header())
	}
}

func TestWriteChallenge(t *testing.T) {
	// RFC 9449 §7.1 example.
	rec := httptest.NewRecorder()
	WriteChallenge(rec, &Error{Code: InvalidToken, Description: "Invalid DPoP key binding", Status: 401},
		Challenge{DPoPAlgs: []string{"ES256"}}, "DPoP")
	if got := rec.Header().Get("WWW-Authenticate"); got != `DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"` {
		t.Fatalf("challenge %s", got)
	}
	rec = httptest.NewRecorder()
	WriteChallenge(rec, &Error{}, Challenge{DPoPAlgs: []string{"ES256", "PS256"}, Bearer: true, ResourceMetadata: "https://r/.well-known/oauth-protected-resource"}, "")
	vals := rec.Header().Values("WWW-Authenticate")
	if len(vals) != 2 || vals[0] != `DPoP algs="ES256 PS256", resource_metadata="https://r/.well-known/oauth-protected-resource"` || !strings.HasPrefix(vals[1], "Bearer ") {
		t.Fatalf("challenges %q", vals)
	}
	if rec.Code != 401 || rec.Body.Len() != 0 {
		t.Fatalf("no credentials: %d %q, want 401 and no error body", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteChallenge(rec, &Error{Code: InsufficientScope, Scope: "payments:write", Description: "needs \"payments:write\"\n"}, Challenge{DPoPAlgs: []string{"ES256"}}, "DPoP")
	if rec.Code != 403 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="payments:write"`) || strings.Contains(rec.Header().Get("WWW-Authenticate"), "\n") {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
