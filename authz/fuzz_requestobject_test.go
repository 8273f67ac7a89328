package authz

import (
	"strconv"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// FuzzRequestObject: request-object parsing (RFC 9101) never panics; a
// request object is accepted only when signed with the client's key, and
// then its parameters are a well-formed authorization request of that
// client: client_id the client's, no nested request or request_uri, no
// JWT claim passed on as a parameter, a payload the strictjson rules
// accept, each value within the form limits. The fuzzer varies the header
// and the payload and whether they are signed with the client's key.
func FuzzRequestObject(f *testing.F) {
	h := newHarness(f)
	now := h.clk.Now()
	n := func(d int64) string { return strconv.FormatInt(now.Unix()+d, 10) }
	good := `{"iss":"jwt","aud":"` + h.issuer + `","client_id":"jwt","nbf":` + n(0) + `,"exp":` + n(300) + `,"jti":"j1",` +
		`"response_type":"code","redirect_uri":"` + webRedirect + `","scope":"read","max_age":30,"resource":["` + testAPI + `"],` +
		`"claims":{"id_token":{"acr":{"essential":true}}}}`
	hdr := `{"alg":"ES256","kid":"k1","typ":"oauth-authz-req+jwt"}`
	f.Add(hdr, good, true)
	f.Add(hdr, good, false)
	f.Add(`{"alg":"none"}`, good, false)
	f.Add(`{"alg":"HS256","kid":"k1"}`, good, false)
	f.Add(`{"alg":"ES256","TYP":"x","typ":"JWT"}`, good, true)
	f.Add(hdr, strings.Replace(good, `"client_id":"jwt"`, `"client_id":"jwt","Client_id":"web"`, 1), true)
	f.Add(hdr, strings.Replace(good, `"client_id":"jwt"`, `"client_id":"jwt","client_id":"web"`, 1), true)
	f.Add(hdr, strings.Replace(good, `"scope":"read"`, `"request_uri":"urn:x","scope":"read"`, 1), true)
	f.Add(hdr, strings.Replace(good, `"max_age":30`, `"max_age":1e999`, 1), true)
	f.Add(hdr, `[]`, true)
	f.Add(hdr, `{"exp":`+n(300)+`,"exp":`+n(99999)+`}`, true)
	algs := []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256}
	f.Fuzz(func(t *testing.T, header, payload string, sign bool) {
		var raw string
		if sign {
			raw = rawAssertion(t, h.jwtKey, header, payload)
		} else {
			raw = header + "." + payload + ".AAAA"
		}
		chk := requestObjectCheck{algs: algs, keys: h.jwtKeys(), clientID: "jwt", issuer: h.issuer, now: now}
		ro, e := verifyRequestObject(raw, chk)
		if e != nil {
			return
		}
		if !sign {
			t.Fatalf("an object not signed with the client's key was accepted: %q", raw)
		}
		if err := strictjson.Check([]byte(payload)); err != nil {
			t.Fatalf("payload strictjson refuses was accepted: %v", err)
		}
		p := ro.params
		if p.Get("client_id") != "jwt" || p.Has("request") || p.Has("request_uri") || ro.jti == "" {
			t.Fatalf("accepted parameters %v (jti %q)", p, ro.jti)
		}
		for _, c := range requestObjectClaims {
			if p.Has(c) {
				t.Fatalf("claim %s passed on as a parameter: %v", c, p)
			}
		}
		for k, vs := range p {
			for _, v := range vs {
				if len(v) > maxParamBytes || v == "" {
					t.Fatalf("parameter %s has a value of %d bytes", k, len(v))
				}
			}
		}
	})
}

// jwtKeys is the key set of the jwt client.
func (h *harness) jwtKeys() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: h.jwtKey.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
}

// TestRequestObjectParams: the claims of a request object become the
// parameters of the request: strings as they are, max_age a number,
// resource an array, claims an object kept as compact JSON; the JWT
// claims are not parameters.
func TestRequestObjectParams(t *testing.T) {
	h := newHarness(t)
	now := h.clk.Now()
	payload := `{"iss":"jwt","aud":["` + h.issuer + `"],"client_id":"jwt","nbf":` + strconv.FormatInt(now.Unix(), 10) +
		`,"exp":` + strconv.FormatInt(now.Unix()+60, 10) + `,"jti":"j1","sub":"x","scope":"read","max_age":30,` +
		`"resource":["https://a.example","https://b.example"],"claims":{ "id_token" : {"acr":null} }}`
	ro, e := verifyRequestObject(rawAssertion(t, h.jwtKey, `{"alg":"ES256","kid":"k1"}`, payload),
		requestObjectCheck{algs: []jose.SignatureAlgorithm{jose.ES256}, keys: h.jwtKeys(), clientID: "jwt", issuer: h.issuer, now: now})
	if e != nil {
		t.Fatal(e)
	}
	got := ro.params.Encode()
	want := "claims=%7B%22id_token%22%3A%7B%22acr%22%3Anull%7D%7D&client_id=jwt&max_age=30&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&scope=read"
	if got != want || ro.jti != "j1" {
		t.Fatalf("params %s (jti %q), want %s", got, ro.jti, want)
	}
}
