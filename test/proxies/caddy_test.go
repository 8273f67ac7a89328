package proxies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caddyWard is the forward_auth part of the site, as
// docs/INTEGRATIONS.md gives it.
const caddyWard = `
        request_header -X-Ward-*
        request_header -X_Ward_*
        request_header -x_ward_*
        request_header -X-Original-*
        forward_auth WARD {
            uri /_ward/authorize
            copy_headers X-Ward-Subject X-Ward-Client X-Ward-Scopes X-Ward-JKT
        }
`

func startCaddy(t *testing.T, ward, upstream string) string {
	bin := requireProxy(t, "/usr/bin/caddy")
	dir := t.TempDir()
	addr := freePort(t)
	conf := `{
    admin off
    auto_https off
}
http://ADDR {
    # route keeps this order: the client's copies go before forward_auth
    # copies Ward's.
    route {
        handle /.well-known/oauth-protected-resource* {
            reverse_proxy WARD
        }
` + caddyWard + `
        handle_path /v1/* {
            rewrite * /orders{path}
            reverse_proxy UPSTREAM {
                header_up -Authorization
                header_up -DPoP
            }
        }
        handle {
            reverse_proxy UPSTREAM {
                header_up -Authorization
                header_up -DPoP
            }
        }
    }
}
`
	conf = strings.NewReplacer("ADDR", addr, "WARD", ward, "UPSTREAM", upstream).Replace(conf)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	run(t, dir, addr, env, bin, "run", "--config", file, "--adapter", "caddyfile")
	return "http://" + addr
}

// TestCaddyForwardAuth: Debian's Caddy with forward_auth in front of an
// upstream, Ward's gateway as the authorizer.
func TestCaddyForwardAuth(t *testing.T) {
	s := newStack(t, startCaddy)
	attacks(t, s)
}
