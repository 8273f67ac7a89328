// Package inspect decodes a JWT access token or a DPoP proof without
// verifying it and reports, check by check, what Ward's verifiers would
// refuse (`ward decode`).
package inspect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/strictjson"
)

// Finding is one check: passed (OK), or why a verifier refuses.
type Finding struct {
	OK   bool
	Text string
}

// JWS is a decoded compact JWS (not verified).
type JWS struct {
	header, claims       map[string]any
	rawHeader, rawClaims []byte
}

// Typ is the header's typ, lower case.
func (j *JWS) Typ() string { s, _ := j.header["typ"].(string); return strings.ToLower(s) }

// Parse decodes a compact JWS without verifying it; numbers stay
// json.Number.
func Parse(s string) (*JWS, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a compact JWS (want three base64url parts separated by dots, got %d)", len(parts))
	}
	j := &JWS{}
	for i, out := range []*map[string]any{&j.header, &j.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("part %d is not base64url without padding: %v", i+1, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return nil, fmt.Errorf("part %d is not a JSON object: %v", i+1, err)
		}
		if i == 0 {
			j.rawHeader = b
		} else {
			j.rawClaims = b
		}
	}
	return j, nil
}

// jwkNames are the JWK members (RFC 7517 §4, RFC 7518 §6).
var jwkNames = []string{"kty", "use", "key_ops", "alg", "kid", "crv", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// StrictFindings reports what the map decoding hides: a member name that
// appears twice (the map keeps the last) or differs from a registered
// name only in case. JSON names are case-sensitive and unique (RFC 8259
// §4, RFC 7515 §4), and Ward's verifiers refuse both.
func (j *JWS) StrictFindings() []Finding {
	var out []Finding
	for _, p := range []struct {
		name string
		raw  []byte
	}{{"header", j.rawHeader}, {"claims", j.rawClaims}} {
		if err := strictjson.CheckObject(p.raw, strictjson.JOSENames); err != nil {
			out = append(out, Finding{false, fmt.Sprintf("%s: %v; Ward refuses repeated member names and names that differ from a registered one only in case (RFC 7515 §4)", p.name, err)})
		}
	}
	for _, n := range []struct {
		name  string
		obj   map[string]any
		names []string
	}{{"header jwk", mapOf(j.header["jwk"]), jwkNames}, {"claims cnf", mapOf(j.claims["cnf"]), []string{"jkt", "x5t#S256", "jwk", "kid"}}} {
		raw, _ := json.Marshal(n.obj)
		if err := strictjson.CheckObject(raw, n.names); n.obj != nil && err != nil {
			out = append(out, Finding{false, fmt.Sprintf("%s: %v; Ward refuses it (RFC 7515 §4)", n.name, err)})
		}
	}
	return out
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

// Print writes the header and claims, indented, and the times they hold
// relative to now.
func (j *JWS) Print(w io.Writer, now time.Time) {
	for _, p := range []struct {
		name string
		raw  []byte
	}{{"header", j.rawHeader}, {"claims", j.rawClaims}} {
		var buf bytes.Buffer
		if json.Indent(&buf, p.raw, "  ", "  ") != nil {
			buf.Write(p.raw)
		}
		fmt.Fprintf(w, "%s:\n  %s\n", p.name, buf.String())
	}
	for _, k := range []string{"iat", "nbf", "exp", "auth_time"} {
		if t, ok := numericDate(j.claims[k]); ok {
			fmt.Fprintf(w, "  %-4s = %s (%s)\n", k, t.UTC().Format(time.RFC3339), rel(t, now))
		}
	}
}

func rel(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}

func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// Checker judges a JWS as Ward's verifiers would.
type Checker struct {
	Now            time.Time     // judge times as of this instant
	MaxAge, Leeway time.Duration // a proof's iat age; clock leeway
	Method, URL    string        // a proof's request, when known
}

// check is a passed finding with the text good (printed as is, not a
// format), or a failed one with bad formatted with args.
func check(ok bool, good, bad string, args ...any) Finding {
	if ok {
		return Finding{true, good}
	}
	return Finding{false, fmt.Sprintf(bad, args...)}
}

// algCheck refuses none and symmetric algorithms (RFC 8725 §3.1, RFC 9449
// §4.3 (5)).
func algCheck(alg string, allowed []string) Finding {
	switch {
	case alg == "" || strings.EqualFold(alg, "none"):
		return Finding{false, fmt.Sprintf("alg %q: unsigned tokens are never accepted", alg)}
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return Finding{false, fmt.Sprintf("alg %s: HMAC (a shared secret) cannot prove possession of a key; use an asymmetric algorithm", alg)}
	}
	for _, a := range allowed {
		if a == alg {
			return Finding{true, "alg " + alg + " is asymmetric and allowed"}
		}
	}
	return Finding{false, fmt.Sprintf("alg %s is not in the allowed list %v", alg, allowed)}
}

// Proof checks a DPoP proof (RFC 9449 §4.3); raw is its compact form,
// access and jkt the token it comes with (empty without).
func (d *Checker) Proof(j *JWS, raw, access, jkt string) []Finding {
	out := proofHeader(j)
	for _, c := range []string{"jti", "htm", "htu", "iat"} {
		if _, ok := j.claims[c]; !ok {
			out = append(out, Finding{false, "claim " + c + " is missing (RFC 9449 §4.2)"})
		}
	}
	htm, _ := j.claims["htm"].(string)
	htu, _ := j.claims["htu"].(string)
	if iat, ok := numericDate(j.claims["iat"]); ok && htm != "" && htu != "" {
		out = append(out, verifyAt(raw, htm, htu, iat), d.iatWindow(iat))
	}
	if d.Method != "" {
		out = append(out, check(htm == d.Method, "htm matches "+d.Method, "htm %q, but the request is %s (htm_mismatch)", htm, d.Method))
	}
	if d.URL != "" {
		want, err1 := dpop.NormalizeURL(d.URL)
		got, err2 := dpop.NormalizeURL(htu)
		out = append(out, check(err1 == nil && err2 == nil && want == got, "htu matches "+d.URL, "htu %q, but the request URL is %q (htu_mismatch; query and fragment are ignored)", htu, d.URL))
	}
	out = append(out, proofBinding(j, access, jkt)...)
	if n, ok := j.claims["nonce"].(string); ok {
		out = append(out, Finding{true, fmt.Sprintf("nonce %q: valid only if the server issued it recently (else use_dpop_nonce)", n)})
	}
	return out
}

// proofHeader checks typ, alg and that jwk is a public key (RFC 9449
// §4.2, §4.3).
func proofHeader(j *JWS) []Finding {
	var out []Finding
	typ, _ := j.header["typ"].(string)
	out = append(out, check(typ == "dpop+jwt", "typ dpop+jwt", "typ %q: a proof must have typ dpop+jwt (RFC 9449 §4.2)", typ))
	alg, _ := j.header["alg"].(string)
	out = append(out, algCheck(alg, dpop.DefaultAlgorithms))
	jwk, _ := j.header["jwk"].(map[string]any)
	if jwk == nil {
		return append(out, Finding{false, "no jwk in the header: the proof must carry its public key (RFC 9449 §4.2)"})
	}
	var priv []string
	for _, k := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := jwk[k]; ok {
			priv = append(priv, k)
		}
	}
	if len(priv) > 0 {
		return append(out, Finding{false, fmt.Sprintf("jwk carries private or symmetric key material %v: a verifier refuses it, and that key is now compromised (RFC 9449 §4.3 (7))", priv)})
	}
	return append(out, Finding{true, fmt.Sprintf("jwk is a public key (kty %v)", jwk["kty"])})
}

// verifyAt runs Ward's verifier on the proof at its own time and request,
// so that only the proof itself (signature and key) is examined.
func verifyAt(raw, htm, htu string, iat time.Time) Finding {
	v, err := dpop.NewVerifier(dpop.WithClock(func() time.Time { return iat }))
	if err == nil {
		_, err = v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: htm, URL: htu})
	}
	var de *dpop.Error
	switch {
	case err == nil:
		return Finding{true, "signature verifies with the jwk"}
	case errors.As(err, &de):
		return Finding{false, fmt.Sprintf("Ward's verifier refuses it: %s (%s)", de.Description, de.Reason)}
	default:
		return Finding{false, err.Error()}
	}
}

// iatWindow checks the proof's age against MaxAge and Leeway.
func (d *Checker) iatWindow(iat time.Time) Finding {
	age := d.Now.Sub(iat)
	switch {
	case age > d.MaxAge:
		return Finding{false, fmt.Sprintf("iat is %s old, more than the %s a server accepts (iat_too_old): make a fresh proof for every request, and check this machine's clock", age.Round(time.Second), d.MaxAge)}
	case -age > d.Leeway:
		return Finding{false, fmt.Sprintf("iat is %s in the future, more than the %s leeway (iat_in_future): this machine's clock is ahead", (-age).Round(time.Second), d.Leeway)}
	default:
		return Finding{true, fmt.Sprintf("iat within the window (-%s, +%s)", d.MaxAge, d.Leeway)}
	}
}

// proofBinding checks ath against the access token and the proof's key
// against the token's cnf.jkt (RFC 9449 §4.3 (12), §6.1).
func proofBinding(j *JWS, access, jkt string) []Finding {
	ath, hasATH := j.claims["ath"].(string)
	if access == "" {
		if hasATH {
			return []Finding{{true, "ath present: for a request with an access token"}}
		}
		return nil
	}
	out := []Finding{check(hasATH && ath == dpop.ATH(access), "ath is the hash of the access token", "ath %q is not the SHA-256 of the access token given (%s) — a proof for a request with a token needs ath (RFC 9449 §4.3 (12))", ath, dpop.ATH(access))}
	if jwk, _ := j.header["jwk"].(map[string]any); jwk != nil {
		if tp, err := thumbprintOf(j.rawHeader); err == nil {
			out = append(out, check(jkt != "" && tp == jkt, "the proof's key is the one the token is bound to (jkt "+tp+")", "the proof's key has thumbprint %s, the token's cnf.jkt is %q (jkt_mismatch): sign with the key the token was issued to", tp, jkt))
		}
	}
	return out
}

func thumbprintOf(header []byte) (string, error) {
	var h struct {
		JWK json.RawMessage `json:"jwk"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return "", err
	}
	var jk jose.JSONWebKey
	if err := jk.UnmarshalJSON(h.JWK); err != nil {
		return "", err
	}
	return dpop.Thumbprint(jk.Key)
}

// Token checks an RFC 9068 access token, but not its signature.
func (d *Checker) Token(j *JWS) []Finding {
	var out []Finding
	typ, _ := j.header["typ"].(string)
	out = append(out, check(strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt"), "typ at+jwt (RFC 9068 §2.1)", "typ %q: Ward's resource servers want at+jwt (RFC 9068 §2.1); an ID token or other JWT is not an access token", typ))
	alg, _ := j.header["alg"].(string)
	out = append(out, algCheck(alg, []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}))
	if _, ok := j.header["kid"]; !ok {
		out = append(out, Finding{false, "no kid: the verifier cannot pick the issuer's key"})
	}
	if exp, ok := numericDate(j.claims["exp"]); !ok {
		out = append(out, Finding{false, "exp is missing"})
	} else {
		out = append(out, check(d.Now.Before(exp.Add(d.Leeway)), "not expired", "expired %s ago: get a new token (or refresh)", d.Now.Sub(exp).Round(time.Second)))
	}
	if nbf, ok := numericDate(j.claims["nbf"]); ok {
		out = append(out, check(!nbf.After(d.Now.Add(d.Leeway)), "nbf passed", "not valid before %s", nbf.UTC().Format(time.RFC3339)))
	}
	for _, c := range []string{"iss", "aud", "sub", "client_id", "jti", "iat"} {
		if _, ok := j.claims[c]; !ok {
			out = append(out, Finding{false, "claim " + c + " is missing (RFC 9068 §2.2)"})
		}
	}
	out = append(out, tokenBinding(mapOf(j.claims["cnf"])))
	out = append(out, Finding{true, "signature not checked here: it needs the issuer's JWKS"})
	return out
}

// tokenBinding says what key or certificate the token is bound to:
// cnf.jkt (DPoP, RFC 9449 §6.1) or cnf.x5t#S256 (mTLS, RFC 8705 §3.1).
func tokenBinding(cnf map[string]any) Finding {
	jkt, _ := cnf["jkt"].(string)
	x5t, _ := cnf["x5t#S256"].(string)
	switch {
	case jkt != "" && x5t != "":
		return Finding{false, "cnf has both jkt and x5t#S256: Ward binds a token to one key or one certificate, never both"}
	case jkt != "":
		return Finding{true, "DPoP-bound: cnf.jkt " + jkt + "; send it as 'Authorization: DPoP', each request with a proof signed by that key"}
	case x5t != "":
		return Finding{true, "certificate-bound (mTLS, RFC 8705 §3): cnf.x5t#S256 " + x5t + "; send it as 'Authorization: Bearer' over a TLS connection presenting that client certificate (ward curl --cert)"}
	}
	return Finding{false, "no cnf.jkt or cnf.x5t#S256: the token is bound to nothing (a bearer token), which Ward's gateway refuses on DPoP and mTLS routes"}
}

// IsProof says whether the JWS is a DPoP proof: typed dpop+jwt, or shaped
// like one whatever its typ (a jwk in the header, htm and htu claims), so
// that a proof with a wrong typ is judged as a proof and its typ named as
// the defect rather than judged as an access token.
func (j *JWS) IsProof() bool {
	if j.Typ() == "dpop+jwt" {
		return true
	}
	_, jwk := j.header["jwk"].(map[string]any)
	_, htm := j.claims["htm"]
	_, htu := j.claims["htu"]
	return jwk && (htm || htu)
}

// BoundKey is the claims' cnf.jkt: the thumbprint of the key a DPoP-bound
// token is bound to, or "".
func (j *JWS) BoundKey() string {
	jkt, _ := mapOf(j.claims["cnf"])["jkt"].(string)
	return jkt
}
