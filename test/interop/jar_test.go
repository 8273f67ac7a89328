package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestOpenIDClientJARThroughPAR: openid-client, as a private_key_jwt
// client registered with require_signed_request_object, signs its
// authorization request as a request object (RFC 9101,
// buildAuthorizationUrlWithJAR) and pushes it to Ward's PAR endpoint with
// a DPoP proof (RFC 9126 §3); the user signs in through the request_uri,
// and the code is exchanged for a DPoP-bound token. The same request
// pushed without a request object is refused with invalid_request, and
// the request object pushed a second time with invalid_request_object
// (jti replay).
func TestOpenIDClientJARThroughPAR(t *testing.T) {
	w := newWard(t)
	node := needNode(t, "openid-client", "jose")
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	privJWK, _ := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: "k1", Algorithm: "ES256"})
	const jarClient = "jar-app"
	c := &store.Client{ID: jarClient, Name: "openid-client JAR", AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: pub,
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode}, RedirectURIs: []string{callback},
		Scopes: []string{"demo:read"}, Audiences: []string{w.gwURL}, RequireSignedRequestObject: true}
	if _, err := authz.CreateClient(context.Background(), w.st, c, time.Now()); err != nil {
		t.Fatal(err)
	}

	sc := startScript(t, node, "jar-par.mjs", w.issuer, jarClient, callback, "demo:read", string(privJWK))
	var start struct {
		Authorize string    `json:"authorize"`
		JKT       string    `json:"jkt"`
		Plain     npmError  `json:"plain"`
		Replay    npmError  `json:"replay"`
		Error     *npmError `json:"error"`
		Stage     string    `json:"stage"`
	}
	sc.next(&start)
	if start.Error != nil {
		t.Fatalf("openid-client failed at %s: %+v", start.Stage, *start.Error)
	}
	if start.Plain.Accepted || start.Plain.Error != oauth.InvalidRequest {
		t.Errorf("PAR without a request object: %+v, want invalid_request", start.Plain)
	}
	if start.Replay.Accepted || start.Replay.Error != oauth.InvalidRequestObject {
		t.Errorf("the request object pushed again: %+v, want invalid_request_object", start.Replay)
	}
	au, err := url.Parse(start.Authorize)
	if err != nil || !strings.HasPrefix(start.Authorize, w.issuer+authz.PathAuthorize+"?") || au.Query().Get("request_uri") == "" || au.Query().Get("request") != "" {
		t.Fatalf("authorization URL %q: want client_id and PAR's request_uri", start.Authorize)
	}
	final, err := browse(start.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	sc.send(final.String())
	var res authcodeResult
	sc.next(&res)
	if res.Error != nil {
		t.Fatalf("openid-client failed at %s: %+v", res.Stage, *res.Error)
	}
	_, cl := decodeJWT(t, res.Result.AccessToken)
	if cnf, _ := cl["cnf"].(map[string]any); cnf["jkt"] != start.JKT || cl["sub"] != testSubject || cl["client_id"] != jarClient {
		t.Fatalf("access token claims %v: want sub %s, client_id %s, cnf.jkt %s", cl, testSubject, jarClient, start.JKT)
	}
	if n := w.count(authz.PathPAR); n < 3 {
		t.Fatalf("%d PAR requests, want at least 3 (plain, signed, replay)", n)
	}
}
