package interop

import (
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/authztest"
	"github.com/wardauth/ward/internal/wardtest"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestOpenIDClientDeviceDPoP: openid-client (pinned in interop/) runs
// the device authorization grant (RFC 8628) as a public client with its
// own DPoP key, through use_dpop_nonce (nonces on): it asks for codes,
// polls with its own authorization_pending and slow_down handling while
// a person approves on the verification page, and gets a DPoP token
// bound to its key — the key its first poll fixed (docs/DEVICE.md).
func TestOpenIDClientDeviceDPoP(t *testing.T) {
	node := needNode(t, "openid-client", "jose")
	as := authztest.New(t, authztest.Options{
		Config: func(c *config.Config) {
			c.DeviceAuthorization = config.DeviceAuthorization{Enabled: true, Interval: time.Second}
			c.DPoP.Nonce.Enabled = true
		},
		Clients: []store.Client{{ID: "tv", Name: "openid-client TV", AuthMethod: oauth.AuthNone,
			GrantTypes: []oauth.GrantType{oauth.GrantDeviceCode}, Scopes: []string{"read"}, Audiences: []string{rsAudience}}},
		Users: []authztest.User{{Subject: testSubject, Username: testUser, Password: testPassword}},
	})
	s := startScript(t, node, "device-dpop.mjs", as.URL, "tv", "read")
	var codes struct {
		UserCode string `json:"user_code"`
		Complete string `json:"verification_uri_complete"`
		Interval int    `json:"interval"`
	}
	s.next(&codes)
	if codes.Interval != 1 || !strings.HasPrefix(codes.Complete, as.URL+authz.PathDevice+"?user_code=") {
		t.Fatalf("device authorization seen by openid-client: %+v", codes)
	}
	time.Sleep(1500 * time.Millisecond) // let it poll (and fix its key) first
	if err := wardtest.DeviceApprove(as.URL, codes.UserCode, testUser, testPassword, "allow"); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		JKT         string `json:"jkt"`
	}
	s.next(&tok)
	_, cl := decodeJWT(t, tok.AccessToken)
	cnf, _ := cl["cnf"].(map[string]any)
	if !strings.EqualFold(tok.TokenType, oauth.TokenTypeDPoP) || cnf["jkt"] != tok.JKT || cl["sub"] != testSubject {
		t.Fatalf("token %q claims %v, want cnf.jkt %s", tok.TokenType, cl, tok.JKT)
	}
}
