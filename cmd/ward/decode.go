package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/strictjson"
)

func init() {
	register(command{name: "decode", summary: "show a token or DPoP proof and what a verifier would refuse", run: runDecode})
}

// errRefused makes decode exit 1 after printing its findings.
var errRefused = errors.New("a verifier would refuse it")

// finding is one check of decode: ok, or why a verifier refuses.
type finding struct {
	ok   bool
	text string
}

func runDecode(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("decode", "decode [--method M --url U] TOKEN_OR_PROOF [PROOF]   (- reads stdin)", stderr)
	method := fs.String("method", "", "for a proof: the request method it must match (htm)")
	target := fs.String("url", "", "for a proof: the request URL it must match (htu)")
	maxAge := fs.Duration("max-age", 60*time.Second, "for a proof: how old iat may be (Ward's dpop.iat_max_age)")
	leeway := fs.Duration("leeway", 5*time.Second, "clock leeway for iat in the future, exp and nbf")
	at := fs.Int64("now", 0, "judge times as of this Unix time (default: now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return errUsage
	}
	now := time.Now()
	if *at != 0 {
		now = time.Unix(*at, 0)
	}
	in := make([]string, fs.NArg())
	for i, a := range fs.Args() {
		if a == "-" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return err
			}
			a = line
		}
		in[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a), "DPoP "))
	}
	d := decoder{now: now, maxAge: *maxAge, leeway: *leeway, method: *method, url: *target}
	refused := false
	var tokens []*jws
	for _, s := range in {
		j, err := parseJWS(s)
		if err != nil {
			fmt.Fprintf(stderr, "ward decode: %v\n", err)
			return errUsage
		}
		tokens = append(tokens, j)
	}
	// A token and its proof: the proof's ath and key must match the token.
	var access string
	var jkt string
	if len(tokens) == 2 {
		if tokens[1].typ() != "dpop+jwt" && tokens[0].typ() == "dpop+jwt" {
			tokens[0], tokens[1] = tokens[1], tokens[0]
			in[0], in[1] = in[1], in[0]
		}
		access = in[0]
		if cnf, ok := tokens[0].claims["cnf"].(map[string]any); ok {
			jkt, _ = cnf["jkt"].(string)
		}
	}
	for i, j := range tokens {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		var fs []finding
		if j.typ() == "dpop+jwt" {
			fmt.Fprintln(stdout, "DPoP proof (RFC 9449)")
			fs = d.proof(j, in[i], access, jkt)
		} else {
			fmt.Fprintln(stdout, "Access token (RFC 9068 JWT)")
			fs = d.token(j)
		}
		fs = append(j.strictFindings(), fs...)
		j.print(stdout, now)
		fmt.Fprintln(stdout, "checks:")
		for _, f := range fs {
			mark := "ok     "
			if !f.ok {
				mark, refused = "REFUSED", true
			}
			fmt.Fprintf(stdout, "  %s %s\n", mark, f.text)
		}
	}
	if refused {
		return errRefused
	}
	return nil
}

// jws is a decoded compact JWS (not verified).
type jws struct {
	header, claims       map[string]any
	rawHeader, rawClaims []byte
}

func (j *jws) typ() string { s, _ := j.header["typ"].(string); return strings.ToLower(s) }

func parseJWS(s string) (*jws, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a compact JWS (want three base64url parts separated by dots, got %d)", len(parts))
	}
	j := &jws{}
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

// strictFindings reports what the map decoding hides: a member name that
// appears twice (the map keeps the last) or differs from a registered
// name only in case. JSON names are case-sensitive and unique (RFC 8259
// §4, RFC 7515 §4), and Ward's verifiers refuse both.
func (j *jws) strictFindings() []finding {
	var out []finding
	for _, p := range []struct {
		name string
		raw  []byte
	}{{"header", j.rawHeader}, {"claims", j.rawClaims}} {
		if err := strictjson.CheckObject(p.raw, strictjson.JOSENames); err != nil {
			out = append(out, finding{false, fmt.Sprintf("%s: %v; Ward refuses repeated member names and names that differ from a registered one only in case (RFC 7515 §4)", p.name, err)})
		}
	}
	for _, n := range []struct {
		name  string
		obj   map[string]any
		names []string
	}{{"header jwk", mapOf(j.header["jwk"]), jwkNames}, {"claims cnf", mapOf(j.claims["cnf"]), []string{"jkt", "x5t#S256", "jwk", "kid"}}} {
		raw, _ := json.Marshal(n.obj)
		if err := strictjson.CheckObject(raw, n.names); n.obj != nil && err != nil {
			out = append(out, finding{false, fmt.Sprintf("%s: %v; Ward refuses it (RFC 7515 §4)", n.name, err)})
		}
	}
	return out
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

func (j *jws) print(w io.Writer, now time.Time) {
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

type decoder struct {
	now            time.Time
	maxAge, leeway time.Duration
	method, url    string
}

func check(ok bool, good, bad string, args ...any) finding {
	if ok {
		return finding{true, fmt.Sprintf(good, args...)}
	}
	return finding{false, fmt.Sprintf(bad, args...)}
}

// algCheck refuses none and symmetric algorithms (RFC 8725 §3.1, RFC 9449
// §4.3 (5)).
func algCheck(alg string, allowed []string) finding {
	switch {
	case alg == "" || strings.EqualFold(alg, "none"):
		return finding{false, fmt.Sprintf("alg %q: unsigned tokens are never accepted", alg)}
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return finding{false, fmt.Sprintf("alg %s: HMAC (a shared secret) cannot prove possession of a key; use an asymmetric algorithm", alg)}
	}
	for _, a := range allowed {
		if a == alg {
			return finding{true, "alg " + alg + " is asymmetric and allowed"}
		}
	}
	return finding{false, fmt.Sprintf("alg %s is not in the allowed list %v", alg, allowed)}
}

func (d *decoder) proof(j *jws, raw, access, jkt string) []finding {
	var out []finding
	typ, _ := j.header["typ"].(string)
	out = append(out, check(typ == "dpop+jwt", "typ dpop+jwt", "typ %q: a proof must have typ dpop+jwt (RFC 9449 §4.2)", typ))
	alg, _ := j.header["alg"].(string)
	out = append(out, algCheck(alg, dpop.DefaultAlgorithms))
	jwk, _ := j.header["jwk"].(map[string]any)
	switch {
	case jwk == nil:
		out = append(out, finding{false, "no jwk in the header: the proof must carry its public key (RFC 9449 §4.2)"})
	default:
		var priv []string
		for _, k := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := jwk[k]; ok {
				priv = append(priv, k)
			}
		}
		out = append(out, check(len(priv) == 0, "jwk is a public key (kty %v)", "jwk carries private or symmetric key material %v: a verifier refuses it, and that key is now compromised (RFC 9449 §4.3 (7))", jwk["kty"]))
		if len(priv) > 0 {
			out[len(out)-1].text = fmt.Sprintf("jwk carries private or symmetric key material %v: a verifier refuses it, and that key is now compromised (RFC 9449 §4.3 (7))", priv)
		}
	}
	for _, c := range []string{"jti", "htm", "htu", "iat"} {
		if _, ok := j.claims[c]; !ok {
			out = append(out, finding{false, "claim " + c + " is missing (RFC 9449 §4.2)"})
		}
	}
	htm, _ := j.claims["htm"].(string)
	htu, _ := j.claims["htu"].(string)
	// Signature and key, with Ward's verifier, judged at the proof's own
	// time and request so that only the proof itself is examined here.
	if iat, ok := numericDate(j.claims["iat"]); ok && htm != "" && htu != "" {
		v, err := dpop.NewVerifier(dpop.WithClock(func() time.Time { return iat }))
		if err == nil {
			_, err = v.Verify(context.Background(), dpop.Request{Proofs: []string{raw}, Method: htm, URL: htu})
		}
		var de *dpop.Error
		switch {
		case err == nil:
			out = append(out, finding{true, "signature verifies with the jwk"})
		case errors.As(err, &de):
			out = append(out, finding{false, fmt.Sprintf("Ward's verifier refuses it: %s (%s)", de.Description, de.Reason)})
		default:
			out = append(out, finding{false, err.Error()})
		}
		age := d.now.Sub(iat)
		switch {
		case age > d.maxAge:
			out = append(out, finding{false, fmt.Sprintf("iat is %s old, more than the %s a server accepts (iat_too_old): make a fresh proof for every request, and check this machine's clock", age.Round(time.Second), d.maxAge)})
		case -age > d.leeway:
			out = append(out, finding{false, fmt.Sprintf("iat is %s in the future, more than the %s leeway (iat_in_future): this machine's clock is ahead", (-age).Round(time.Second), d.leeway)})
		default:
			out = append(out, finding{true, fmt.Sprintf("iat within the window (-%s, +%s)", d.maxAge, d.leeway)})
		}
	}
	if d.method != "" {
		out = append(out, check(htm == d.method, "htm matches "+d.method, "htm %q, but the request is %s (htm_mismatch)", htm, d.method))
	}
	if d.url != "" {
		want, err1 := dpop.NormalizeURL(d.url)
		got, err2 := dpop.NormalizeURL(htu)
		out = append(out, check(err1 == nil && err2 == nil && want == got, "htu matches "+d.url, "htu %q, but the request URL is %q (htu_mismatch; query and fragment are ignored)", htu, d.url))
	}
	ath, hasATH := j.claims["ath"].(string)
	if access != "" {
		out = append(out, check(hasATH && ath == dpop.ATH(access), "ath is the hash of the access token", "ath %q is not the SHA-256 of the access token given (%s) — a proof for a request with a token needs ath (RFC 9449 §4.3 (12))", ath, dpop.ATH(access)))
		if jwk != nil {
			if tp, err := thumbprintOf(j.rawHeader); err == nil {
				out = append(out, check(jkt != "" && tp == jkt, "the proof's key is the one the token is bound to (jkt "+tp+")", "the proof's key has thumbprint %s, the token's cnf.jkt is %q (jkt_mismatch): sign with the key the token was issued to", tp, jkt))
			}
		}
	} else if hasATH {
		out = append(out, finding{true, "ath present: for a request with an access token"})
	}
	if n, ok := j.claims["nonce"].(string); ok {
		out = append(out, finding{true, fmt.Sprintf("nonce %q: valid only if the server issued it recently (else use_dpop_nonce)", n)})
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

func (d *decoder) token(j *jws) []finding {
	var out []finding
	typ, _ := j.header["typ"].(string)
	out = append(out, check(strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt"), "typ at+jwt (RFC 9068 §2.1)", "typ %q: Ward's resource servers want at+jwt (RFC 9068 §2.1); an ID token or other JWT is not an access token", typ))
	alg, _ := j.header["alg"].(string)
	out = append(out, algCheck(alg, []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}))
	if _, ok := j.header["kid"]; !ok {
		out = append(out, finding{false, "no kid: the verifier cannot pick the issuer's key"})
	}
	if exp, ok := numericDate(j.claims["exp"]); !ok {
		out = append(out, finding{false, "exp is missing"})
	} else {
		out = append(out, check(d.now.Before(exp.Add(d.leeway)), "not expired", "expired %s ago: get a new token (or refresh)", d.now.Sub(exp).Round(time.Second)))
	}
	if nbf, ok := numericDate(j.claims["nbf"]); ok {
		out = append(out, check(!nbf.After(d.now.Add(d.leeway)), "nbf passed", "not valid before %s", nbf.UTC().Format(time.RFC3339)))
	}
	for _, c := range []string{"iss", "aud", "sub", "client_id", "jti", "iat"} {
		if _, ok := j.claims[c]; !ok {
			out = append(out, finding{false, "claim " + c + " is missing (RFC 9068 §2.2)"})
		}
	}
	cnf, _ := j.claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	out = append(out, check(jkt != "", "DPoP-bound: cnf.jkt "+jkt+"; send it as 'Authorization: DPoP', each request with a proof signed by that key", "no cnf.jkt: the token is not DPoP-bound (a bearer token), which Ward's gateway refuses on DPoP routes"))
	out = append(out, finding{true, "signature not checked here: it needs the issuer's JWKS"})
	return out
}
