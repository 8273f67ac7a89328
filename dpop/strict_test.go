package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func signRaw(t testing.TB, hdr, claims []byte, key *ecdsa.PrivateKey) string {
	t.Helper()
	return craftRaw(t, hdr, claims, "ES256", key)
}

// TestVerifyRefusesAmbiguousJSON: JSON member names are case-sensitive
// and unique (RFC 8259 §4, RFC 7515 §4). encoding/json matched "TYP" to
// typ and kept the last of two members, so each of these proofs used to
// be accepted. A refused header is bad_header, refused claims bad_claim.
func TestVerifyRefusesAmbiguousJSON(t *testing.T) {
	f := newFixture(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(f.hdr["jwk"])
	otherJWK, _ := json.Marshal(publicJWK(t, &other.PublicKey))
	otherX := publicJWK(t, &other.PublicKey)["x"].(string)
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk) + `}`
	claims := `{"jti":"j1","htm":"POST","htu":"` + testURL + `","iat":` + jsonInt(testNow.Unix()) + `,"ath":"` + ATH(testToken) + `"}`
	for _, c := range []struct {
		name, hdr, claims string
		want              Reason
	}{
		{"uppercase_TYP_without_typ", strings.Replace(hdr, `"typ"`, `"TYP"`, 1), claims, ReasonBadHeader},
		{"TYP_and_typ", strings.Replace(hdr, `{`, `{"TYP":"x",`, 1), claims, ReasonBadHeader},
		{"duplicate_typ", strings.Replace(hdr, `{`, `{"typ":"jwt",`, 1), claims, ReasonBadHeader},
		{"duplicate_alg", strings.Replace(hdr, `{`, `{"alg":"HS256",`, 1), claims, ReasonBadHeader},
		{"uppercase_ALG_without_alg", strings.Replace(hdr, `"alg"`, `"ALG"`, 1), claims, ReasonBadHeader},
		{"duplicate_jwk", strings.Replace(hdr, `{`, `{"jwk":`+string(otherJWK)+`,`, 1), claims, ReasonBadHeader},
		{"uppercase_JWK_without_jwk", strings.Replace(hdr, `"jwk"`, `"JWK"`, 1), claims, ReasonBadHeader},
		{"nested_duplicate_in_jwk", strings.Replace(hdr, `"jwk":{`, `"jwk":{"x":"`+otherX+`",`, 1), claims, ReasonBadHeader},
		{"nested_case_variant_in_jwk", strings.Replace(hdr, `"kty"`, `"KTY"`, 1), claims, ReasonBadHeader},
		{"uppercase_HTU_without_htu", hdr, strings.Replace(claims, `"htu"`, `"HTU"`, 1), ReasonBadClaim},
		{"HTU_and_htu", hdr, strings.Replace(claims, `{`, `{"HTU":"https://evil.example/",`, 1), ReasonBadClaim},
		{"duplicate_htu", hdr, strings.Replace(claims, `{`, `{"htu":"https://evil.example/",`, 1), ReasonBadClaim},
		{"duplicate_htm", hdr, strings.Replace(claims, `{`, `{"htm":"GET",`, 1), ReasonBadClaim},
		{"duplicate_jti", hdr, strings.Replace(claims, `{`, `{"jti":"j0",`, 1), ReasonBadClaim},
		{"duplicate_ath", hdr, strings.Replace(claims, `{`, `{"ath":"x",`, 1), ReasonBadClaim},
		{"duplicate_in_unknown_claim", hdr, strings.Replace(claims, `{`, `{"ext":{"a":1,"a":2},`, 1), ReasonBadClaim},
		{"trailing_data_after_claims", hdr, claims + `{}`, ReasonBadClaim},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _ := NewVerifier(WithClock(fixedClock))
			// The untouched proof is accepted: the refusal is the edit's.
			if _, err := v.Verify(context.Background(), f.request(signRaw(t, []byte(hdr), []byte(strings.Replace(claims, "j1", "j-"+c.name, 1)), f.key))); err != nil {
				t.Fatalf("control proof refused: %v", err)
			}
			_, err := v.Verify(context.Background(), f.request(signRaw(t, []byte(c.hdr), []byte(c.claims), f.key)))
			var de *Error
			if !errors.As(err, &de) || de.Reason != c.want {
				t.Fatalf("got %v, want reason %s", err, c.want)
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
