package console

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/secevent"
)

func TestClientsList(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	code, body := b.api("/clients", nil)
	if code != http.StatusOK || !strings.Contains(body, "ward-console") || !strings.Contains(body, `aria-current="page"`) {
		t.Fatalf("clients: %d %.600s", code, body)
	}
	code, body = b.api("/clients?q=nothing-matches", nil)
	if code != http.StatusOK || strings.Contains(body, "<code>ward-console</code>") {
		t.Fatalf("search: %d %.600s", code, body)
	}
}

var secretRE = regexp.MustCompile(`<p class="secret" id="client-secret">([^<]+)</p>`)

func clientValues(id string) url.Values {
	return url.Values{"id": {id}, "auth_method": {"client_secret_basic"}, "name": {"Shop"},
		"grant_type": {"authorization_code", "refresh_token"}, "redirect_uris": {"https://shop.example.com/cb"},
		"scopes": {"orders:read"}, "audiences": {"https://api.example.com"}, "sender_constraint": {"dpop"}}
}

// Create, edit, rotate and delete a client: each works, shows the secret
// once where there is one, and is a client_changed event by the operator.
func TestClientActions(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	ctx := context.Background()

	code, body := b.api("/clients", clientValues("shop"))
	m := secretRE.FindStringSubmatch(body)
	if code != http.StatusCreated || m == nil {
		t.Fatalf("create: %d %.800s", code, body)
	}
	cl, err := e.st.GetClient(ctx, "shop")
	if err != nil || !bytes.Equal(cl.SecretHash, authz.HashClientSecret(m[1])) {
		t.Fatalf("stored client %+v, %v", cl, err)
	}
	if ev := e.event(secevent.ClientChanged, "created"); ev.Actor != "u-alice" || ev.ClientID != "shop" || ev.Route != "console" {
		t.Errorf("event %+v", ev)
	}
	if _, body := b.api("/clients/shop", nil); secretRE.MatchString(body) {
		t.Error("the secret is shown again")
	}

	f := clientValues("")
	f.Set("name", "Shop 2")
	f.Set("scopes", "orders:read orders:write")
	if code, body := b.api("/clients/shop", f); code != http.StatusOK || !strings.Contains(body, "saved") {
		t.Fatalf("edit: %d %.600s", code, body)
	}
	cl, _ = e.st.GetClient(ctx, "shop")
	if cl.Name != "Shop 2" || len(cl.Scopes) != 2 {
		t.Errorf("edited client %+v", cl)
	}
	e.event(secevent.ClientChanged, "updated")

	code, body = b.api("/clients/shop/rotate", url.Values{})
	m2 := secretRE.FindStringSubmatch(body)
	if code != http.StatusOK || m2 == nil || m2[1] == m[1] {
		t.Fatalf("rotate: %d %.600s", code, body)
	}
	cl, _ = e.st.GetClient(ctx, "shop")
	if !bytes.Equal(cl.SecretHash, authz.HashClientSecret(m2[1])) {
		t.Error("the rotated secret is not the stored one")
	}
	e.event(secevent.ClientChanged, "secret_rotated")

	if code, _ := b.api("/clients/shop/delete", url.Values{}); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	if _, err := e.st.GetClient(ctx, "shop"); err == nil {
		t.Error("the client is still there")
	}
	e.event(secevent.ClientChanged, "deleted")
}

// Bad input is refused with a message naming the field; declared clients
// are not changed.
func TestClientInputRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("alice")
	cases := map[string]struct {
		edit func(url.Values)
		want string
	}{
		"no id":             {func(f url.Values) { f.Del("id") }, "client id: is required"},
		"no grant":          {func(f url.Values) { f.Del("grant_type") }, "grant types"},
		"password grant":    {func(f url.Values) { f.Set("grant_type", "password") }, "password"},
		"wildcard redirect": {func(f url.Values) { f.Set("redirect_uris", "https://*.example.com/cb") }, "redirect_uris"},
		"http redirect":     {func(f url.Values) { f.Set("redirect_uris", "http://shop.example.com/cb") }, "redirect_uris"},
		"bad constraint":    {func(f url.Values) { f.Set("sender_constraint", "none") }, "sender_constraint"},
		"private_key_jwt":   {func(f url.Values) { f.Set("auth_method", "private_key_jwt") }, "jwks"},
	}
	for name, tc := range cases {
		f := clientValues("x-" + strings.ReplaceAll(name, " ", "-"))
		tc.edit(f)
		code, body := b.api("/clients", f)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `class="problem"`) {
			t.Errorf("%s: %d %.500s", name, code, body)
		}
	}
	if code, _ := b.api("/clients", clientValues("ward-console")); code != http.StatusConflict {
		t.Errorf("taken id: %d", code)
	}
	for _, p := range []string{"/clients/ward-console", "/clients/ward-console/rotate", "/clients/ward-console/delete"} {
		if code, body := b.api(p, clientValues("")); code != http.StatusConflict || !strings.Contains(body, "declared") {
			t.Errorf("%s: %d %.300s", p, code, body)
		}
	}
	if code, _ := b.api("/clients/nobody", nil); code != http.StatusNotFound {
		t.Errorf("unknown client: %d", code)
	}
}
