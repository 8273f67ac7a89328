package authz

import (
	"errors"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// FuzzRegistrationMetadata: parsing and the registration policy never
// panic; every refusal is an RFC 7591 §3.2.2 code; whatever is accepted
// is a DPoP-bound client with redirect URIs Ward's rules accept, scopes
// within the configured ones and no jwks_uri.
func FuzzRegistrationMetadata(f *testing.F) {
	for _, s := range []string{
		publicReg,
		`{"redirect_uris":["http://127.0.0.1/cb"]}`,
		`{"redirect_uris":["https://app.example/cb#f"]}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRjPX4FTQvqHxPTbMuHHszaaz8g1eYV4LO_RIgA"}]}}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"redirect_uris":["http://evil/cb"]}`,
		`{"jwks_uri":"http://169.254.169.254/"}`,
		`{"client_name":"\u202e"}`, `{"scope":"openid read admin"}`, `[]`, `null`, `{`, "",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	cfg := config.DefaultRegistration()
	cfg.Scopes = []string{"openid", "read"}
	cfg.GrantTypes = append(cfg.GrantTypes, oauth.GrantClientCredentials)
	f.Fuzz(func(t *testing.T, body []byte, open bool) {
		md, err := ParseClientMetadata(body)
		if err == nil {
			var c *store.Client
			c, err = regPolicy{cfg: &cfg, open: open}.toClient(md)
			if err == nil {
				checkFuzzedClient(t, c, md, open)
				return
			}
		}
		var e *oauth.Error
		if !errors.As(err, &e) || (e.Code != oauth.InvalidClientMetadata && e.Code != oauth.InvalidRedirectURI &&
			e.Code != oauth.UnapprovedSoftwareStatement) || e.Status != 400 {
			t.Fatalf("refusal %v is not an RFC 7591 error", err)
		}
	})
}

func checkFuzzedClient(t *testing.T, c *store.Client, md *ClientMetadata, open bool) {
	if c.SenderConstraint != "dpop" || !c.Dynamic || md.JWKSURI != "" {
		t.Fatalf("accepted client %+v", c)
	}
	if open && c.AuthMethod != oauth.AuthNone {
		t.Fatalf("open registration accepted %s", c.AuthMethod)
	}
	for _, u := range c.RedirectURIs {
		if msg := config.CheckRedirectURI(u); msg != "" {
			t.Fatalf("accepted redirect URI %q: %s", u, msg)
		}
	}
	for _, s := range c.Scopes {
		if s != "openid" && s != "read" {
			t.Fatalf("accepted scope %q", s)
		}
	}
}
