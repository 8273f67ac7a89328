package attack

import (
	"net/http"
	"strings"
	"testing"
)

// TestGatewayHeaderHygiene: what a client sends that no upstream may
// read, against the running binary — Ward's session cookies, header
// names with '_' that CGI-style servers read as identity headers, method
// overrides past a GET-only policy, client-chosen addresses, a Host of
// another site and a path that is not UTF-8.
func TestGatewayHeaderHygiene(t *testing.T) {
	send := func(t *testing.T, method, p string, hdr http.Header, host string, tok ...string) (*response, http.Header, int) {
		t.Helper()
		req, _ := http.NewRequest(method, ward.gwURL+p, nil)
		if len(tok) == 2 {
			req.Header.Set("Authorization", "DPoP "+tok[0])
			req.Header.Set("DPoP", tok[1])
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		if host != "" {
			req.Host = host
		}
		n := upstreamCount()
		r := mustDo(t, req)
		forwarded := len(upstreamSince(n))
		var h http.Header
		if forwarded > 0 {
			h = lastUpstreamHeader()
		}
		return r, h, forwarded
	}
	t.Run("Ward's session cookies on the open route: removed, the app's kept", func(t *testing.T) {
		r, h, n := send(t, http.MethodGet, "/pub/c", http.Header{"Cookie": {
			"__Host-ward-bff-app=STOLEN1; theme=dark", "ward-session=STOLEN2;  __HOST-WARD-BROWSER=STOLEN3", "__Host-ward-session=STOLEN4"}}, "")
		if r.status != http.StatusOK || n != 1 {
			t.Fatalf("got %d, %d forwarded; want 200 forwarded once", r.status, n)
		}
		if got := h.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark" {
			t.Fatalf("upstream Cookie %q, want [theme=dark]", got)
		}
	})
	t.Run("header names with underscores on the open route: dropped", func(t *testing.T) {
		r, h, n := send(t, http.MethodGet, "/pub/u", http.Header{
			"X-Ward-Spiffe_id": {"spiffe://evil/admin"}, "X_Ward_Subject": {"admin"}, "X_Forwarded_For": {"6.6.6.6"}, "X_App": {"x"}}, "")
		if r.status != http.StatusOK || n != 1 {
			t.Fatalf("got %d, %d forwarded; want 200 forwarded once", r.status, n)
		}
		for k, v := range h {
			if strings.Contains(k, "_") {
				t.Errorf("upstream received %s %q", k, v)
			}
		}
	})
	t.Run("method override on the GET-only route: not forwarded", func(t *testing.T) {
		tok, sg, _ := serviceToken(t, svcClient)
		over := http.Header{"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "X-Method-Override": {"DELETE"}}
		r, h, n := send(t, http.MethodGet, apiPath, over, "", tok, proof(t, sg, http.MethodGet, apiPath, tok))
		if r.status != http.StatusOK || n != 1 {
			t.Fatalf("got %v, %d forwarded; want 200 forwarded once", r, n)
		}
		for k := range over {
			if v := h.Values(k); len(v) != 0 {
				t.Errorf("upstream received %s %q", k, v)
			}
		}
		if r, _, n := send(t, http.MethodPost, apiPath, over, "", tok, proof(t, sg, http.MethodPost, apiPath, tok)); r.status != http.StatusForbidden || n != 0 {
			t.Errorf("POST with an override: %d, %d forwarded; want 403, none", r.status, n)
		}
	})
	t.Run("method override in the query on the GET-only route: refused with 400", func(t *testing.T) {
		tok, sg, _ := serviceToken(t, svcClient)
		p := apiPath + "?_method=DELETE"
		if r, _, n := send(t, http.MethodGet, p, nil, "", tok, proof(t, sg, http.MethodGet, p, tok)); r.status != http.StatusBadRequest || n != 0 {
			t.Errorf("got %d, %d forwarded; want 400, none", r.status, n)
		}
	})
	t.Run("client-chosen addresses and URLs: removed", func(t *testing.T) {
		hdr := http.Header{}
		for _, k := range []string{"X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
			"X-Forwarded-Port", "X-Original-Forwarded-For", "Cf-Connecting-Ip", "Fastly-Client-Ip", "X-Cluster-Client-Ip", "X-Original-Url", "X-Rewrite-Url"} {
			hdr[k] = []string{"evil.example"}
		}
		r, h, n := send(t, http.MethodGet, "/pub/a", hdr, "")
		if r.status != http.StatusOK || n != 1 {
			t.Fatalf("got %d, %d forwarded; want 200 forwarded once", r.status, n)
		}
		for k, v := range h {
			if strings.Contains(strings.Join(v, ","), "evil") {
				t.Errorf("upstream received %s %q", k, v)
			}
		}
		if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For %q, want the peer's address", got)
		}
	})
	t.Run("Host of another site: refused with 400, not forwarded", func(t *testing.T) {
		r, _, n := send(t, http.MethodGet, "/pub/h", nil, "evil.example")
		if r.status != http.StatusBadRequest || n != 0 {
			t.Fatalf("got %d, %d forwarded; want 400, none", r.status, n)
		}
	})
	t.Run("path not UTF-8: refused with 400, not forwarded", func(t *testing.T) {
		for _, p := range []string{"/pub/%c0%ae%c0%ae/admin", "/pub/%ff"} {
			if r, _, n := send(t, http.MethodGet, p, nil, ""); r.status != http.StatusBadRequest || n != 0 {
				t.Errorf("%s: got %d, %d forwarded; want 400, none", p, r.status, n)
			}
		}
	})
}
