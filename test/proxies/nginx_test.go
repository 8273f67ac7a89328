package proxies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardauth/ward/internal/nginxconf"
)

func startNginx(t *testing.T, ward, upstream string) string {
	bin := requireProxy(t, "/usr/sbin/nginx")
	dir := t.TempDir()
	addr := freePort(t)
	conf := `
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path DIR/body;
    proxy_temp_path DIR/proxy;
    fastcgi_temp_path DIR/fastcgi;
    uwsgi_temp_path DIR/uwsgi;
    scgi_temp_path DIR/scgi;
    upstream ward_authorizer {
        server WARD;
        keepalive 32;
    }
    server {
        listen ADDR;
` + nginxconf.Locations("ward_authorizer", true) + `
        location / {
            include DIR/ward-protect.conf;
            proxy_pass http://UPSTREAM;
        }
        location /.well-known/oauth-protected-resource {
            proxy_pass http://WARD;
            proxy_set_header Host $host;
        }
        location /v1/ {
            include DIR/ward-protect.conf;
            rewrite ^/v1/(.*)$ /orders/$1 break;
            proxy_pass http://UPSTREAM;
        }
    }
}
`
	conf = strings.NewReplacer("DIR", dir, "ADDR", addr, "WARD", ward, "UPSTREAM", upstream).Replace(conf)
	for name, body := range map[string]string{"nginx.conf": conf, "ward-protect.conf": nginxconf.Protect} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, addr, nil, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	return "http://" + addr
}

// TestNginxForwardAuth: Debian's nginx with auth_request in front of an
// upstream, Ward's gateway as the authorizer.
func TestNginxForwardAuth(t *testing.T) {
	s := newStack(t, startNginx)
	attacks(t, s)
}
