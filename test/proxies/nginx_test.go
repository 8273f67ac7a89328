package proxies_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nginxAuthLocation is the endpoint's internal location, as
// docs/INTEGRATIONS.md gives it.
const nginxAuthLocation = `
    location = /_ward/authorize {
        internal;
        proxy_pass http://ward_authorizer/_ward/authorize;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Original-URI $request_uri;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Method "";
        proxy_set_header X-Forwarded-Uri "";
    }
    location @ward_error {
        add_header Retry-After $ward_retry_after always;
        if ($ward_status = 429) { return 429; }
        if ($ward_status = 503) { return 503; }
        if ($ward_status = 400) { return 400; }
        if ($ward_status = 404) { return 404; }
        return 500;
    }
    location @ward_forbidden {
        add_header WWW-Authenticate $ward_www_authenticate always;
        return 403;
    }
`

// nginxProtect is what every protected location includes
// (ward-protect.conf in docs/INTEGRATIONS.md).
const nginxProtect = `
auth_request /_ward/authorize;
auth_request_set $ward_status $upstream_status;
auth_request_set $ward_subject $upstream_http_x_ward_subject;
auth_request_set $ward_client $upstream_http_x_ward_client;
auth_request_set $ward_scopes $upstream_http_x_ward_scopes;
auth_request_set $ward_jkt $upstream_http_x_ward_jkt;
auth_request_set $ward_dpop_nonce $upstream_http_dpop_nonce;
auth_request_set $ward_retry_after $upstream_http_retry_after;
auth_request_set $ward_www_authenticate $upstream_http_www_authenticate;
add_header DPoP-Nonce $ward_dpop_nonce always;
add_header Retry-After $ward_retry_after always;
error_page 500 = @ward_error;
error_page 403 = @ward_forbidden;
proxy_set_header X-Ward-Subject $ward_subject;
proxy_set_header X-Ward-Client $ward_client;
proxy_set_header X-Ward-Scopes $ward_scopes;
proxy_set_header X-Ward-JKT $ward_jkt;
proxy_set_header Authorization "";
proxy_set_header DPoP "";
`

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
` + nginxAuthLocation + `
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
	for name, body := range map[string]string{"nginx.conf": conf, "ward-protect.conf": nginxProtect} {
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
