package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// A Ward user without the admin role signs in but every call is refused,
// and the refusal is an event.
func TestNonAdminRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("bob")
	code, body := b.api("/clients", nil)
	if code != http.StatusForbidden || !strings.Contains(body, "does not have the admin role") || strings.Contains(body, "ward-console") {
		t.Fatalf("bob: %d %.400s", code, body)
	}
	if ev := e.event(secevent.PolicyDenied, "console_not_admin"); ev.Subject != "u-bob" {
		t.Errorf("event: %+v", ev)
	}
}

// The role is read on every call: removing it ends the operator's access
// at the next call, without a new login.
func TestRoleCheckedOnEveryCall(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	if code, _ := b.api("/clients", nil); code != http.StatusOK {
		t.Fatalf("alice: %d", code)
	}
	ctx := context.Background()
	u, err := e.st.GetUser(ctx, "u-alice")
	if err != nil {
		t.Fatal(err)
	}
	u.Claims.Roles = nil
	if err := e.st.UpsertUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if code, body := b.api("/clients", nil); code != http.StatusForbidden {
		t.Fatalf("alice without the role: %d %.300s", code, body)
	}
}

// The BFF's CSRF defence guards the admin API: a call without the header,
// or from another site, never reaches it.
func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	for name, hdr := range map[string]map[string]string{
		"no header":  {"Sec-Fetch-Site": "same-origin", "Origin": e.url},
		"cross site": {"X-Ward-CSRF": "1", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"bad origin": {"X-Ward-CSRF": "1", "Origin": "https://evil.example"},
		"no origin":  {"X-Ward-CSRF": "1"},
	} {
		_, resp := b.do("POST", e.url+"/console/bff/api/users/alice/unlock", nil, hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
}

// The admin API refuses a call that did not come through the console's
// BFF: no token, or a token of another client or without ward:admin.
func TestAPIRefusesWithoutConsoleToken(t *testing.T) {
	e := newEnv(t)
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer x.y.z"}, {"Authorization": "DPoP abc"}} {
		req, _ := http.NewRequest("GET", e.url+"/console/admin-api/clients", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%v: %d", h, resp.StatusCode)
		}
	}
}

// A DPoP-bound token for the admin API is still refused when it lacks
// the scope ward:admin (the resource middleware) or was issued to
// another client than the console's (the console's own check).
func TestAPIRefusesOtherTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	apiURL := e.url + "/console/admin-api"
	for _, tc := range []struct {
		id, scope string
		want      int
	}{{"reader", "read", http.StatusForbidden}, {"intruder", config.ConsoleScope, http.StatusForbidden}} {
		cl := &store.Client{ID: tc.id, AuthMethod: oauth.AuthSecretBasic, GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
			Scopes: []string{tc.scope}, Audiences: []string{apiURL}, SenderConstraint: store.ConstraintDPoP}
		secret, err := authz.CreateClient(ctx, e.st, cl, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		c, err := client.New(*endpoint(e.url), tc.id, client.WithKey(key), client.WithClientSecret(secret, client.AuthStyleBasic),
			client.WithScopes(tc.scope), client.WithResource(apiURL))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.ClientCredentials(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		resp, err := c.HTTPClient(oauth2.StaticTokenSource(tok)).Get(apiURL + "/clients")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || strings.Contains(string(body), "<code>ward-console</code>") {
			t.Errorf("%s: %d %.300s", tc.id, resp.StatusCode, body)
		}
	}
	e.event(secevent.PolicyDenied, "console_not_console_client")
}
