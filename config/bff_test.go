package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/config"
)

const bffBase = gwBase + `  bff:
    - name: shop
      public_url: https://app.example
      client_id: shop-bff
      client_secret_file: /etc/ward/shop-bff.secret
      scopes: [orders:read]
      resource: https://api.example
      api: https://api.example/orders
`

func TestBFFValid(t *testing.T) {
	c, err := load("ward.yaml", bffBase+"      session: {idle_timeout: 10m, same_site: lax}\n", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Gateway.BFF[0].WithDefaults()
	if b.PathPrefix != "/bff" || b.CSRFHeader != "X-Ward-CSRF" || b.AfterLogin != "/" || b.Session.Lifetime != 8*time.Hour ||
		b.Session.IdleTimeout != 10*time.Minute || b.Session.SameSite != "lax" || b.Session.Store != "memory" {
		t.Errorf("defaults: %+v", b)
	}
	if b.RedirectURI() != "https://app.example/bff/callback" || b.Host() != "app.example" {
		t.Errorf("redirect %q host %q", b.RedirectURI(), b.Host())
	}
}

func TestBFFErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		sentinel         error
	}{
		{"typo", strings.Replace(bffBase, "client_secret_file", "client_secret", 1),
			`ward.yaml:23: unknown key "client_secret" in gateway.bff[0] (did you mean "client_secret_file"?)`, config.ErrUnknownKey},
		{"http site", strings.Replace(bffBase, "https://app.example", "http://app.example", 1),
			`ward.yaml:21: gateway.bff[0].public_url: "http://app.example" must use https: the session cookie is Secure and __Host- prefixed (http is allowed only for a loopback IP such as 127.0.0.1, in dev mode)`, config.ErrInvalidValue},
		{"site with a path", strings.Replace(bffBase, "https://app.example", "https://app.example/x", 1),
			`ward.yaml:21: gateway.bff[0].public_url: "https://app.example/x" must be a scheme and host such as https://app.example.com`, config.ErrInvalidValue},
		{"no secret", strings.Replace(bffBase, "      client_secret_file: /etc/ward/shop-bff.secret\n", "", 1),
			`ward.yaml:20: gateway.bff[0].client_secret_file: required (a file holding the client's secret)`, config.ErrMissing},
		{"open redirect after login", bffBase + "      after_login: //evil.example/\n",
			`ward.yaml:27: gateway.bff[0].after_login: "//evil.example/" must be a path on the site, such as /app/`, config.ErrInvalidValue},
		{"name taken by a route", strings.Replace(bffBase, "name: health", "name: bff-shop", 1),
			`ward.yaml:20: gateway.bff[0].name: "shop" is taken: the site's metrics and logs are labelled bff-shop, which is already a route's or another site's name`, config.ErrInvalidValue},
		{"redis store without redis", bffBase + "      session: {store: redis, key_file: /k}\n",
			`ward.yaml:27: gateway.bff[0].session.store: redis needs the top-level redis section`, config.ErrInvalidValue},
		{"redis store without key", bffBase + "      session: {store: redis}\nredis: {addr: 127.0.0.1:6379}\n",
			`ward.yaml:27: gateway.bff[0].session.key_file: required with store: redis (every instance must seal sessions with the same key)`, config.ErrMissing},
		{"idle longer than lifetime", bffBase + "      session: {lifetime: 1h, idle_timeout: 2h}\n",
			`ward.yaml:27: gateway.bff[0].session.idle_timeout: 2h0m0s exceeds the maximum of 1h0m0s`, config.ErrInvalidValue},
		{"same_site none", bffBase + "      session: {same_site: none}\n",
			`ward.yaml:27: gateway.bff[0].session.same_site: "none" is not one of strict, lax`, config.ErrInvalidValue},
		{"csrf header", bffBase + "      csrf_header: Cookie\n",
			`ward.yaml:27: gateway.bff[0].csrf_header: "Cookie" must be a custom header name starting with X-`, config.ErrInvalidValue},
		{"api with credentials", strings.Replace(bffBase, "https://api.example/orders", "https://u:p@api.example/orders", 1),
			`ward.yaml:26: gateway.bff[0].api: "https://u:p@api.example/orders" must be an http or https URL without query, fragment or credentials`, config.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load("ward.yaml", tt.yaml, noEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("does not wrap %v", tt.sentinel)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/app/": true, "/a?b=c#d": true, "/a/%2F/b": true,
		"": false, "app": false, "//evil.example": false, `/\evil.example`: false, "/a\\b": false,
		"https://evil.example": false, "/a\tb": false, "/a\nb": false, "javascript:alert(1)": false,
	} {
		if got := config.LocalPath(p); got != want {
			t.Errorf("LocalPath(%q) = %v, want %v", p, got, want)
		}
	}
}
