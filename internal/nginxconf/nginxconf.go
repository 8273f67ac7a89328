// Package nginxconf is the nginx configuration docs/INTEGRATIONS.md gives
// for Ward's forward-auth authorizer ("nginx (auth_request)"), without its
// comments: the one copy that test/proxies runs against Debian's nginx and
// that bench/gatewayload measures.
package nginxconf

import "strings"

// Locations returns the locations of the server block that make the
// check: the internal /_ward/authorize, sent to nginx's upstream block
// named upstream (over keep-alive HTTP/1.1 connections when keepalive,
// else nginx's default of a new HTTP/1.0 connection per check), and the
// named locations that give Ward's refusals back their status and their
// WWW-Authenticate challenge.
func Locations(upstream string, keepalive bool) string {
	conn := ""
	if keepalive {
		conn = "\n    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";"
	}
	return strings.NewReplacer("UPSTREAM", upstream, "CONNECTION", conn).Replace(locations)
}

const locations = `
location = /_ward/authorize {
    internal;
    proxy_pass http://UPSTREAM/_ward/authorize;CONNECTION
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

// Protect is ward-protect.conf, included in every protected location.
const Protect = `
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
