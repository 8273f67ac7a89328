package attack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"
)

// victim is a legitimate client: its token and key.
type victim struct {
	tok string
	key *ecdsa.PrivateKey
}

type gwAttack struct {
	name string
	// prepare returns the request: method, path, Authorization, proofs.
	prepare func(t *testing.T, v *victim) (method, path, authorization string, proofs []string)
	status  int
	code    string // error in the body and in WWW-Authenticate
	reason  string // ward_gateway_rejections_total reason
}

// runGateway sends each attack to the gateway of the running ward and
// checks the refusal, the metric delta and that the upstream saw nothing.
func runGateway(t *testing.T, attacks []gwAttack) {
	t.Helper()
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			tok, _, key := serviceToken(t, svcClient)
			v := &victim{tok: tok, key: key}
			method, path, authorization, proofs := at.prepare(t, v)
			before, hits, decoy := rejections(t), ward.hits.Load(), ward.decoyHits.Load()
			r := call(t, method, path, authorization, proofs...)
			if r.status != at.status || r.str("error") != at.code {
				t.Errorf("got %v, want %d %s", r, at.status, at.code)
			}
			if ch := strings.Join(r.header.Values("WWW-Authenticate"), ", "); !strings.Contains(ch, `error="`+at.code+`"`) {
				t.Errorf("WWW-Authenticate %q lacks error=%q", ch, at.code)
			}
			want := at.code + "/" + at.reason
			if d := delta(before, rejections(t)); len(d) != 1 || d[want] != 1 {
				t.Errorf("rejections delta = %v, want exactly %s = 1", d, want)
			}
			if got := ward.hits.Load(); got != hits {
				t.Errorf("the refused request reached the upstream (%d hits, %d before)", got, hits)
			}
			if got := ward.decoyHits.Load(); got != decoy {
				t.Errorf("the gateway fetched from the decoy server (%d requests)", got-decoy)
			}
		})
	}
}

func get(authorization string, proofs ...string) (string, string, string, []string) {
	return http.MethodGet, apiPath, authorization, proofs
}

// useOnce makes the legitimate call with p, which must be forwarded.
func useOnce(t *testing.T, tok, p string) {
	t.Helper()
	hits := ward.hits.Load()
	if r := call(t, http.MethodGet, apiPath, "DPoP "+tok, p); r.status != http.StatusOK || ward.hits.Load() != hits+1 {
		t.Fatalf("legitimate call: %v", r)
	}
}

func proofClaims(method, path, tok string, iat time.Time) map[string]any {
	sum := sha256.Sum256([]byte(tok))
	return map[string]any{"jti": rand.Text(), "htm": method, "htu": ward.gwURL + path, "iat": iat.Unix(), "ath": b64.EncodeToString(sum[:])}
}

func TestHappyPathThroughTheBinary(t *testing.T) {
	tok, sg, _ := serviceToken(t, svcClient)
	useOnce(t, tok, proof(t, sg, http.MethodGet, apiPath, tok))
}

func TestDPoPAttacks(t *testing.T) {
	sgFor := func(t *testing.T, v *victim, skew time.Duration) func(method, path, tok string) string {
		sg, err := signerFor(v.key, skew)
		if err != nil {
			t.Fatal(err)
		}
		return func(method, path, tok string) string { return proof(t, sg, method, path, tok) }
	}
	runGateway(t, []gwAttack{
		{name: "stolen token with the thief's proof", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			thief, err := newSigner(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return get("DPoP "+v.tok, proof(t, thief, http.MethodGet, apiPath, v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "jkt_mismatch"},
		{name: "stolen token without any proof", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP " + v.tok)
		}, status: 401, code: "invalid_dpop_proof", reason: "missing"},
		{name: "proof replayed", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			p := sgFor(t, v, 0)(http.MethodGet, apiPath, v.tok)
			useOnce(t, v.tok, p)
			return get("DPoP "+v.tok, p)
		}, status: 401, code: "invalid_dpop_proof", reason: "replayed"},
		{name: "malleated copy of a used proof (r, n-s)", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			p := sgFor(t, v, 0)(http.MethodGet, apiPath, v.tok)
			useOnce(t, v.tok, p)
			m := malleate(t, p)
			if m == p {
				t.Fatal("malleation changed nothing")
			}
			return get("DPoP "+v.tok, m)
		}, status: 401, code: "invalid_dpop_proof", reason: "replayed"},
		{name: "proof for another URL", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP "+v.tok, sgFor(t, v, 0)(http.MethodGet, "/api/other", v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "htu_mismatch"},
		{name: "proof for another method", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP "+v.tok, sgFor(t, v, 0)(http.MethodPost, apiPath, v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "htm_mismatch"},
		{name: "proof for another token", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			sg, err := signerFor(v.key, 0)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tokenRequest(svcClient, map[string][]string{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}, sg)
			if err != nil || r.status != 200 || r.str("access_token") == v.tok {
				t.Fatalf("second token: %v %v", r, err)
			}
			return get("DPoP "+v.tok, proof(t, sg, http.MethodGet, apiPath, r.str("access_token")))
		}, status: 401, code: "invalid_dpop_proof", reason: "ath_mismatch"},
		{name: "proof iat too old", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP "+v.tok, sgFor(t, v, -2*time.Minute)(http.MethodGet, apiPath, v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "iat_too_old"},
		{name: "proof iat in the future", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP "+v.tok, sgFor(t, v, time.Minute)(http.MethodGet, apiPath, v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "iat_in_future"},
		{name: "two DPoP headers", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			p := sgFor(t, v, 0)
			return get("DPoP "+v.tok, p(http.MethodGet, apiPath, v.tok), p(http.MethodGet, apiPath, v.tok))
		}, status: 401, code: "invalid_dpop_proof", reason: "multiple_headers"},
		{name: "oversized proof (over 8 KiB)", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			cl := proofClaims(http.MethodGet, apiPath, v.tok, time.Now())
			cl["pad"] = strings.Repeat("A", 9<<10)
			in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(v.key, false)}, cl)
			return get("DPoP "+v.tok, in+"."+es256(v.key, in))
		}, status: 401, code: "invalid_dpop_proof", reason: "too_large"},
		{name: "malformed proof", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return get("DPoP "+v.tok, "not.a-proof")
		}, status: 401, code: "invalid_dpop_proof", reason: "malformed"},
		{name: "alg none proof with the victim's public key", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": publicJWK(v.key, false)}, proofClaims(http.MethodGet, apiPath, v.tok, time.Now()))
			return get("DPoP "+v.tok, in+".")
		}, status: 401, code: "invalid_dpop_proof", reason: "bad_alg"},
		{name: "HMAC proof keyed with the victim's public key", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			in := signingInput(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": publicJWK(v.key, false)}, proofClaims(http.MethodGet, apiPath, v.tok, time.Now()))
			pub, _ := v.key.PublicKey.Bytes()
			mac := hmac.New(sha256.New, pub)
			mac.Write([]byte(in))
			return get("DPoP "+v.tok, in+"."+b64.EncodeToString(mac.Sum(nil)))
		}, status: 401, code: "invalid_dpop_proof", reason: "bad_alg"},
	})
}

// forged signs claims under header with a key the issuer does not have.
func forged(header, claims map[string]any) string {
	rogue, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	in := signingInput(header, claims)
	return in + "." + es256(rogue, in)
}

// withProof returns the request sending tok with a valid proof of the
// victim's key for it.
func withProof(t *testing.T, v *victim, tok string) (string, string, string, []string) {
	sg, err := signerFor(v.key, 0)
	if err != nil {
		t.Fatal(err)
	}
	return get("DPoP "+tok, proof(t, sg, http.MethodGet, apiPath, tok))
}

// tokenParts is the victim's token header and claims, to be tampered with.
func tokenParts(t *testing.T, v *victim) (map[string]any, map[string]any) {
	h, c := decodeJWT(v.tok)
	if h == nil || c == nil || h["kid"] == nil {
		t.Fatalf("token does not decode: %s", v.tok)
	}
	return h, c
}

func TestJWTAttacks(t *testing.T) {
	hdr := func(h map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, x := range h {
			out[k] = x
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	runGateway(t, []gwAttack{
		{name: "alg none token", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, signingInput(hdr(h, "alg", "none"), c)+".")
		}, status: 401, code: "invalid_token", reason: "bad_token_alg"},
		{name: "HS256 keyed with the issuer's public key", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			pemKey := issuerPublicPEM(t, h["kid"].(string))
			in := signingInput(hdr(h, "alg", "HS256"), c)
			mac := hmac.New(sha256.New, pemKey)
			mac.Write([]byte(in))
			return withProof(t, v, in+"."+b64.EncodeToString(mac.Sum(nil)))
		}, status: 401, code: "invalid_token", reason: "bad_token_alg"},
		{name: "kid of an unknown key", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "kid", "rogue-kid"), c))
		}, status: 401, code: "invalid_token", reason: "unknown_kid"},
		{name: "jku pointing at the attacker", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "kid", "rogue-kid", "jku", ward.decoyURL+"/jwks"), c))
		}, status: 401, code: "invalid_token", reason: "forbidden_header"},
		{name: "x5u pointing at the attacker", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "x5u", ward.decoyURL+"/cert.pem"), c))
		}, status: 401, code: "invalid_token", reason: "forbidden_header"},
		{name: "x5c with the attacker's certificate", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "x5c", []string{b64.EncodeToString([]byte("attacker certificate"))}), c))
		}, status: 401, code: "invalid_token", reason: "forbidden_header"},
		{name: "crit header", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "crit", []string{"exp"}), c))
		}, status: 401, code: "invalid_token", reason: "forbidden_header"},
		{name: "token of another issuer", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			c["iss"] = ward.decoyURL
			return withProof(t, v, forged(hdr(h, "kid", "decoy-kid"), c))
		}, status: 401, code: "invalid_token", reason: "wrong_issuer"},
		{name: "token of another audience", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			sg, err := signerFor(v.key, 0)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tokenRequest(otherClient, map[string][]string{"grant_type": {"client_credentials"}, "scope": {"demo:read"}}, sg)
			if err != nil || r.status != 200 {
				t.Fatalf("other token: %v %v", r, err)
			}
			if _, c := decodeJWT(r.str("access_token")); c["aud"] != otherAudience {
				t.Fatalf("other token aud = %v", c["aud"])
			}
			return withProof(t, v, r.str("access_token"))
		}, status: 401, code: "invalid_token", reason: "wrong_audience"},
		{name: "typ JWT", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			return withProof(t, v, forged(hdr(h, "typ", "JWT"), c))
		}, status: 401, code: "invalid_token", reason: "bad_token_typ"},
		{name: "expired token", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			// 1s lifetime + 1s gateway leeway.
			time.Sleep(time.Until(ward.shortExp.Add(2500 * time.Millisecond)))
			return get("DPoP "+ward.shortTok, proof(t, ward.shortSigner, http.MethodGet, apiPath, ward.shortTok))
		}, status: 401, code: "invalid_token", reason: "expired"},
		{name: "token over the size limit", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			h, c := tokenParts(t, v)
			c["pad"] = strings.Repeat("A", 9<<10)
			return withProof(t, v, forged(h, c))
		}, status: 401, code: "invalid_token", reason: "token_too_large"},
		{name: "many dots", prepare: func(t *testing.T, v *victim) (string, string, string, []string) {
			return withProof(t, v, strings.Repeat("a.", 2000)+"a")
		}, status: 401, code: "invalid_token", reason: "malformed_token"},
	})
}

// issuerPublicPEM is the PEM of the issuer's published key kid, the
// "secret" of the RS/HS confusion attack.
func issuerPublicPEM(t *testing.T, kid string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ward.asURL+"/jwks", nil)
	r := mustDo(t, req)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("JWKS: %v: %v", r, err)
	}
	for _, m := range set.Keys {
		if m["kid"] != kid || m["kty"] != "EC" {
			continue
		}
		x, _ := b64.DecodeString(m["x"].(string))
		y, _ := b64.DecodeString(m["y"].(string))
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	t.Fatalf("kid %s not in the JWKS: %v", kid, r)
	return nil
}
