package demo

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	"github.com/wardauth/ward/config"
)

// Upstream is a tiny API for `ward serve --dev`: GET /demo/whoami
// returns the identity headers it received from the gateway (and whether
// credentials leaked through), GET /demo/public answers without any.
func Upstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /demo/whoami", func(w http.ResponseWriter, r *http.Request) {
		got := map[string]any{}
		for name, v := range r.Header {
			if strings.HasPrefix(name, "X-Ward-") {
				got[name] = strings.Join(v, ", ")
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"identity_headers":        got,
			"authorization_forwarded": r.Header.Get("Authorization") != "",
			"dpop_forwarded":          r.Header.Get("DPoP") != "",
			"path":                    r.URL.Path,
		})
	})
	mux.HandleFunc("GET /demo/public", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"hello":"world"}` + "\n"))
	})
	return mux
}

//go:embed app
var appFiles embed.FS

// App is the demo single-page app for `ward serve --dev`, served at
// /app/: it logs in through the BFF site at /bff and calls the demo API
// through it, holding no token (docs/BFF.md).
func App() http.Handler {
	sub, _ := fs.Sub(appFiles, "app")
	return http.StripPrefix("/app", http.FileServerFS(sub))
}

// Builtins are the demo's in-process upstreams by their builtin: names
// (config.BuiltinDemo, config.BuiltinDemoApp), for
// gateway.Options.Upstreams.
func Builtins() map[string]http.Handler {
	return map[string]http.Handler{config.BuiltinDemo: Upstream(), config.BuiltinDemoApp: App()}
}

// DevBFFClient is the client of the dev BFF site.
const DevBFFClient = "demo-bff"

// DevConfig returns a gateway section for `ward serve --dev`: the gateway
// on http://127.0.0.1:9001 in front of the demo API, accepting DPoP-bound
// tokens from issuer for the audience http://127.0.0.1:9001 with any
// scope, and /demo/public open. The caller sets Config.Dev so that the
// http public URL validates.
func DevConfig(issuer string) config.Gateway {
	return DevConfigAt(issuer, "http://"+config.DevGatewayListen, config.DevGatewayListen, config.DevAdminListen)
}

// DevConfigAt is DevConfig with the gateway reached at publicURL and
// listening on listen and adminListen (`ward serve --dev
// --gateway-listen`).
func DevConfigAt(issuer, publicURL, listen, adminListen string) config.Gateway {
	g := config.DefaultGateway()
	g.Enabled = true
	g.Issuer = issuer
	g.PublicURL = publicURL
	g.Listen, g.AdminListen = listen, adminListen
	g.Routes = []config.Route{
		{Name: "demo-public", PathPrefix: "/demo/public", Upstream: config.BuiltinDemo, Unauthenticated: true},
		{Name: "demo", PathPrefix: "/demo/", Upstream: config.BuiltinDemo, Policy: []config.PolicyRule{
			{Name: "any-client", Action: "allow", Principals: []string{"*"}},
		}},
		{Name: "demo-app", PathPrefix: "/app/", Upstream: config.BuiltinDemoApp, Unauthenticated: true},
	}
	// The BFF site the demo app logs in through.
	g.BFF = []config.BFF{{
		Name: "demo", PublicURL: g.PublicURL, ClientID: DevBFFClient,
		Scopes: []string{"demo:read", "openid", "profile"}, Resource: g.PublicURL, API: g.PublicURL + "/demo",
		AfterLogin: "/app/", AfterLogout: "/app/",
		ClientSecretFile: "ward-data/demo-bff-secret", // ward serve --dev sets it under --data
	}}
	return g
}
