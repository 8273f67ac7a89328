package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/dpop"
)

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestDecode: each defect a verifier refuses is named, with what was
// expected; a good proof and token pass (exit 0).
func TestDecode(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	s, _ := dpop.NewSigner(key, dpop.WithClock(func() time.Time { return now }))
	good, _ := s.Proof("POST", "https://as.example/token")
	old, _ := dpop.NewSigner(key, dpop.WithClock(func() time.Time { return now.Add(-10 * time.Minute) }))
	stale, _ := old.Proof("POST", "https://as.example/token")
	future, _ := dpop.NewSigner(key, dpop.WithClock(func() time.Time { return now.Add(time.Minute) }))
	ahead, _ := future.Proof("GET", "https://as.example/token")

	tokenClaims := map[string]any{"iss": "https://as.example", "aud": "https://api.example", "sub": "u", "client_id": "c", "jti": "j", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "cnf": map[string]any{"jkt": s.Thumbprint()}}
	token := b64json(map[string]any{"typ": "at+jwt", "alg": "ES256", "kid": "k1"}) + "." + b64json(tokenClaims) + ".c2ln"
	sOther, _ := dpop.NewSigner(mustKey(t))
	withATH, _ := s.Proof("GET", "https://api.example/x", dpop.WithAccessToken(token))
	otherKey, _ := sOther.Proof("GET", "https://api.example/x", dpop.WithAccessToken(token))
	expired := map[string]any{}
	for k, v := range tokenClaims {
		expired[k] = v
	}
	expired["exp"] = now.Add(-time.Hour).Unix()
	delete(expired, "cnf")
	certClaims := map[string]any{}
	for k, v := range tokenClaims {
		certClaims[k] = v
	}
	certClaims["cnf"] = map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}
	certTok := b64json(map[string]any{"typ": "at+jwt", "alg": "ES256", "kid": "k1"}) + "." + b64json(certClaims) + ".c2ln"
	expiredTok := b64json(map[string]any{"typ": "JWT", "alg": "HS256"}) + "." + b64json(expired) + ".c2ln"

	// Tampered proofs: body edited after signing, alg none, HMAC, private jwk.
	parts := strings.Split(good, ".")
	var hdr map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(hb, &hdr)
	jwk := hdr["jwk"].(map[string]any)
	withPriv := map[string]any{}
	for k, v := range jwk {
		withPriv[k] = v
	}
	dBytes, _ := key.Bytes()
	withPriv["d"] = base64.RawURLEncoding.EncodeToString(dBytes)
	claims := map[string]any{"jti": "x", "htm": "POST", "htu": "https://as.example/token", "iat": now.Unix()}
	none := b64json(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": jwk}) + "." + b64json(claims) + "."
	hmac := b64json(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}) + "." + b64json(claims) + ".c2ln"
	priv := b64json(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": withPriv}) + "." + parts[1] + "." + parts[2]
	badTyp := b64json(map[string]any{"typ": "JWT", "alg": "ES256", "jwk": jwk}) + "." + parts[1] + "." + parts[2]
	edited := parts[0] + "." + b64json(map[string]any{"jti": "y", "htm": "POST", "htu": "https://as.example/token", "iat": now.Unix()}) + "." + parts[2]

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"good proof", []string{good, "--method", "POST", "--url", "https://as.example/token?x=1"}, 0, []string{"DPoP proof", "ok      signature verifies", "htm matches", "htu matches"}},
		{"htm htu mismatch", []string{good, "--method", "GET", "--url", "https://as.example/other"}, 1, []string{"htm_mismatch", "htu_mismatch"}},
		{"stale", []string{stale}, 1, []string{"REFUSED iat is 10m0s old", "iat_too_old"}},
		{"future", []string{ahead}, 1, []string{"in the future", "clock is ahead"}},
		{"edited", []string{edited}, 1, []string{"REFUSED Ward's verifier refuses it", "bad_signature"}},
		{"alg none", []string{none}, 1, []string{"unsigned tokens are never accepted"}},
		{"hmac", []string{hmac}, 1, []string{"HMAC"}},
		{"private jwk", []string{priv}, 1, []string{"private or symmetric key material [d]"}},
		// A proof with a wrong typ is still judged as a proof (by its jwk,
		// htm and htu), and the typ is the defect named.
		{"proof with typ JWT", []string{badTyp}, 1, []string{"DPoP proof (RFC 9449), recognised by its shape", `REFUSED typ "JWT": a proof must have typ dpop+jwt`, "ok      jwk is a public key"}},
		{"certificate-bound token", []string{certTok}, 0, []string{"Access token", "ok      certificate-bound (mTLS, RFC 8705 §3): cnf.x5t#S256 bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}},
		{"good token", []string{token}, 0, []string{"Access token", "DPoP-bound: cnf.jkt " + s.Thumbprint()}},
		{"bad token", []string{expiredTok}, 1, []string{"REFUSED expired 1h0m", "REFUSED no cnf.jkt or cnf.x5t#S256: the token is bound to nothing (a bearer token)", "HMAC", `typ "JWT"`}},
		{"token and its proof", []string{token, withATH}, 0, []string{"ath is the hash of the access token", "is the one the token is bound to"}},
		{"proof with another key", []string{otherKey, token}, 1, []string{"jkt_mismatch"}},
		{"proof without ath", []string{token, good}, 1, []string{"is not the SHA-256 of the access token"}},
		{"not a jws", []string{"abc"}, 2, []string{"not a compact JWS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Judged as of the signers' clock, so a second boundary
			// between signing and decoding cannot change the output.
			args := append([]string{"decode", "--now", strconv.FormatInt(now.Unix(), 10)}, tc.args...)
			code, out, errs := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errs, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errs)
				}
			}
		})
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDecodeFlagsAmbiguousJSON: a repeated member (which a map decoding
// silently folds to its last value) or a case-variant name is reported as
// REFUSED, naming the member, at every level Ward reads.
func TestDecodeFlagsAmbiguousJSON(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	now := time.Now().Unix()
	hdr := `{"typ":"at+jwt","alg":"ES256","kid":"k1"}`
	claims := `{"iss":"https://as.example","aud":"https://api.example","sub":"u","client_id":"c","jti":"j","iat":` + strconv.FormatInt(now, 10) + `,"exp":` + strconv.FormatInt(now+300, 10) + `,"cnf":{"jkt":"t"}}`
	proofHdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b"}}`
	proofClaims := `{"jti":"x","htm":"POST","htu":"https://as.example/token","iat":` + strconv.FormatInt(now, 10) + `}`
	for _, tc := range []struct {
		name, tok, want string
	}{
		{"duplicate_typ", enc(strings.Replace(hdr, `{`, `{"typ":"JWT",`, 1)) + "." + enc(claims) + ".c2ln", `duplicate member name: "typ"`},
		{"duplicate_alg", enc(strings.Replace(hdr, `{`, `{"alg":"none",`, 1)) + "." + enc(claims) + ".c2ln", `duplicate member name: "alg"`},
		{"uppercase_TYP_without_typ", enc(strings.Replace(hdr, `"typ"`, `"TYP"`, 1)) + "." + enc(claims) + ".c2ln", `"TYP" (the member is "typ")`},
		{"duplicate_cnf", enc(hdr) + "." + enc(strings.Replace(claims, `{`, `{"cnf":{"jkt":"o"},`, 1)) + ".c2ln", `duplicate member name: "cnf"`},
		{"duplicate_jkt", enc(hdr) + "." + enc(strings.Replace(claims, `"jkt":"t"`, `"jkt":"o","jkt":"t"`, 1)) + ".c2ln", `duplicate member name: "jkt"`},
		{"uppercase_JKT_in_cnf", enc(hdr) + "." + enc(strings.Replace(claims, `"jkt"`, `"JKT"`, 1)) + ".c2ln", `"JKT" (the member is "jkt")`},
		{"duplicate_htu", enc(proofHdr) + "." + enc(strings.Replace(proofClaims, `{`, `{"htu":"https://evil.example/",`, 1)) + ".c2ln", `duplicate member name: "htu"`},
		{"uppercase_HTU_without_htu", enc(proofHdr) + "." + enc(strings.Replace(proofClaims, `"htu"`, `"HTU"`, 1)) + ".c2ln", `"HTU" (the member is "htu")`},
		{"duplicate_jwk", enc(strings.Replace(proofHdr, `{"typ"`, `{"jwk":{},"typ"`, 1)) + "." + enc(proofClaims) + ".c2ln", `duplicate member name: "jwk"`},
		{"nested_duplicate_in_jwk", enc(strings.Replace(proofHdr, `"x":"a"`, `"x":"o","x":"a"`, 1)) + "." + enc(proofClaims) + ".c2ln", `duplicate member name: "x"`},
		{"uppercase_KTY_in_jwk", enc(strings.Replace(proofHdr, `"kty"`, `"KTY"`, 1)) + "." + enc(proofClaims) + ".c2ln", `"KTY" (the member is "kty")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, "decode", tc.tok)
			if code != 1 || !strings.Contains(out, "REFUSED") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 1 and REFUSED %s\n%s%s", code, tc.want, out, errs)
			}
		})
	}
}
