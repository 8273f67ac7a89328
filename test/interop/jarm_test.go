package interop

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
)

// jarmResult is what interop/jarm-introspection.mjs prints at the end.
type jarmResult struct {
	Error  *npmError `json:"error"`
	Stage  string    `json:"stage"`
	Result *struct {
		AccessToken   string         `json:"access_token"`
		Introspection map[string]any `json:"introspection"`
	} `json:"result"`
}

// runJARM starts the script, plays the browser, checks that the redirect
// carries the response JWT only, lets tamper rewrite it, and returns the
// script's result.
func runJARM(t *testing.T, w *ward, tamper func(*url.URL)) jarmResult {
	t.Helper()
	node := needNode(t, "openid-client")
	sc := startScript(t, node, "jarm-introspection.mjs", w.issuer, appClient, callback, "demo:read", gwRSClient, w.secrets[gwRSClient])
	var start struct {
		Authorize string `json:"authorize"`
	}
	sc.next(&start)
	au, err := url.Parse(start.Authorize)
	if err != nil || au.Query().Get("response_mode") != "jwt" {
		t.Fatalf("authorization URL %q: want response_mode=jwt", start.Authorize)
	}
	final, err := browse(start.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if q := final.Query(); len(q) != 1 || q.Get("response") == "" {
		t.Fatalf("redirect %s: want only the response JWT (JARM §2.3.1)", final)
	}
	if tamper != nil {
		tamper(final)
	}
	sc.send(final.String())
	var res jarmResult
	sc.next(&res)
	return res
}

// TestOpenIDClientJARMAndJWTIntrospection: openid-client asks for a JARM
// response (useJwtResponseMode), verifies Ward's response JWT (signature
// from jwks_uri, iss, aud, exp, state) and redeems its code with DPoP;
// then, as a resource server that registered
// introspection_signed_response_alg, introspects the access token and
// gets an RFC 9701 JWT it verifies (typ, iss, aud, iat, signature with
// enableNonRepudiationChecks).
func TestOpenIDClientJARMAndJWTIntrospection(t *testing.T) {
	w := newWard(t)
	res := runJARM(t, w, nil)
	if res.Error != nil {
		t.Fatalf("openid-client failed at %s: %+v", res.Stage, *res.Error)
	}
	in := res.Result.Introspection
	if in["active"] != true || in["sub"] != testSubject || in["client_id"] != appClient || !strings.EqualFold(in["token_type"].(string), "DPoP") {
		t.Fatalf("introspection %v", in)
	}
}

// TestOpenIDClientRefusesTamperedJARM: one byte of the response JWT's
// payload changed; openid-client must refuse it before the code is sent.
func TestOpenIDClientRefusesTamperedJARM(t *testing.T) {
	w := newWard(t)
	res := runJARM(t, w, func(u *url.URL) {
		q := u.Query()
		parts := strings.Split(q.Get("response"), ".")
		p := []byte(parts[1])
		p[5] ^= 1
		parts[1] = string(p)
		q.Set("response", strings.Join(parts, "."))
		u.RawQuery = q.Encode()
	})
	if res.Error == nil || res.Stage != "code" {
		t.Fatalf("openid-client accepted a tampered JARM response: %+v", res)
	}
	if n := w.count(authz.PathToken); n != 0 {
		t.Errorf("%d token requests: the code was sent despite the tampered response", n)
	}
}
