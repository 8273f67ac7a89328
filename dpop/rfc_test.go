package dpop

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Vectors from RFC 9449 and RFC 7638, as collected in
// shared/vectors/rfc9449.md.
const (
	// RFC 9449 §7.1 Figure 13: a resource request proof, iat 1562262618.
	rfcProof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
	// RFC 9449 §5 Figure 6.
	rfcAccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	// RFC 9449 §7.1 Figure 14.
	rfcATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	// RFC 9449 §4.1 Figure 2 header jwk, and its thumbprint (§6.1 Figure 9).
	rfcJWK = `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`
	rfcJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	// RFC 7638 §3.1: the RSA example key and its thumbprint.
	rfc7638N   = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

var rfcTime = time.Unix(1562262618, 0)

func TestRFCVectors(t *testing.T) {
	if got := ATH(rfcAccessToken); got != rfcATH {
		t.Errorf("ATH = %s, want %s (RFC 9449 §7.1 Fig. 14)", got, rfcATH)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(rfcJWK)); err != nil {
		t.Fatal(err)
	}
	if got, _ := Thumbprint(jwk.Key); got != rfcJKT {
		t.Errorf("Thumbprint = %s, want %s (RFC 9449 §6.1 Fig. 9)", got, rfcJKT)
	}
	var rsaJWK jose.JSONWebKey
	if err := rsaJWK.UnmarshalJSON([]byte(`{"kty":"RSA","e":"AQAB","n":"` + rfc7638N + `"}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := Thumbprint(rsaJWK.Key); got != rfc7638JKT {
		t.Errorf("RSA Thumbprint = %s, want %s (RFC 7638 §3.1)", got, rfc7638JKT)
	}
}

func rfcRequest() Request {
	return Request{
		Proofs:      []string{rfcProof},
		Method:      "GET",
		URL:         "https://resource.example.org/protectedresource",
		AccessToken: rfcAccessToken,
		JKT:         rfcJKT,
	}
}

func TestRFCProofVerifies(t *testing.T) {
	v, err := NewVerifier(WithClock(func() time.Time { return rfcTime }))
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), rfcRequest())
	if err != nil {
		t.Fatalf("RFC 9449 §7.1 Fig. 13 proof: %v", err)
	}
	if p.Thumbprint != rfcJKT || p.JTI != "e1j3V_bKic8-LAEB" || !p.IssuedAt.Equal(rfcTime) || p.Algorithm != ES256 {
		t.Errorf("unexpected proof %+v", p)
	}
	// The same proof again is a replay.
	if _, err := v.Verify(context.Background(), rfcRequest()); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: got %v, want %v", err, ErrReplayed)
	}
}

// malleate re-encodes an ES256 signature (r, s) as (r, n−s): other bytes,
// still a valid signature.
func malleate(t *testing.T, proof string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("bad ES256 signature")
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := make([]byte, 64)
	copy(out, sig[:32])
	s.FillBytes(out[32:])
	parts[2] = base64.RawURLEncoding.EncodeToString(out)
	return strings.Join(parts, ".")
}

func TestMalleatedSignatureIsReplay(t *testing.T) {
	mal := malleate(t, rfcProof)
	if mal == rfcProof {
		t.Fatal("malleation changed nothing")
	}
	// The copy really is valid on its own: a fresh verifier accepts it.
	v1, _ := NewVerifier(WithClock(func() time.Time { return rfcTime }))
	req := rfcRequest()
	req.Proofs = []string{mal}
	if _, err := v1.Verify(context.Background(), req); err != nil {
		t.Fatalf("malleated copy should verify on its own: %v", err)
	}
	// After the original was used, the copy is a replay (keyed by jkt, jti).
	v2, _ := NewVerifier(WithClock(func() time.Time { return rfcTime }))
	if _, err := v2.Verify(context.Background(), rfcRequest()); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(context.Background(), req); !errors.Is(err, ErrReplayed) {
		t.Fatalf("malleated replay: got %v, want %v", err, ErrReplayed)
	}
}

func TestRFCHeaderDecodes(t *testing.T) {
	// Sanity: the RFC proof's header is what the vector file says.
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(rfcProof, ".")[0])
	var m map[string]any
	if err := json.Unmarshal(h, &m); err != nil || m["typ"] != "dpop+jwt" {
		t.Fatalf("header %s", h)
	}
}
