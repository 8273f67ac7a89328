package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wardauth/ward/dpop"
)

// decideReq is a request as a front door hands it to Decide: url is the
// URL the client used (scheme and host set, so a proof must name them).
func (e *env) decideReq(method, url, proofURL, tok string) *http.Request {
	r := httptest.NewRequest(method, url, nil)
	if tok != "" {
		p, err := e.signer.Proof(method, proofURL, dpop.WithAccessToken(tok))
		if err != nil {
			e.t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
	}
	return r
}

func TestDecideAllowed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.decideReq("GET", publicURL+"/orders/1", publicURL+"/orders/1", e.token(nil))
	r.Header.Set("X-Ward-Subject", "mallory")
	r.Header.Set("X-Real-IP", "10.0.0.1")
	d := e.gw.Decide(r)
	if !d.Allowed || d.Status != 200 || d.Route != "orders" || d.Identity == nil || d.Identity.Subject != "alice" {
		t.Fatalf("decision %+v", d)
	}
	if d.Header.Get("X-Ward-Subject") != "alice" || d.Header.Get("X-Ward-Client") != "app" || d.Header.Get("X-Ward-Scopes") != "orders:read" {
		t.Fatalf("identity headers %v", d.Header)
	}
	for _, n := range []string{"X-Ward-Subject", "X-Ward-Jkt", "Authorization", "Dpop", "X-Real-Ip"} {
		if !slices.Contains(d.Remove, n) {
			t.Errorf("Remove %v lacks %s", d.Remove, n)
		}
	}
}

func TestDecideRefused(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("no_token", func(t *testing.T) {
		d := e.gw.Decide(e.decideReq("GET", publicURL+"/orders/1", "", ""))
		if d.Allowed || d.Status != 401 || d.Reason != "no_token" || !strings.HasPrefix(d.Header.Get("WWW-Authenticate"), "DPoP") {
			t.Fatalf("decision %+v", d)
		}
		if d.Header.Get("Cache-Control") != "no-store" || d.Header.Get("Content-Type") != "" {
			t.Fatalf("header %v", d.Header)
		}
	})
	t.Run("no_route", func(t *testing.T) {
		d := e.gw.Decide(e.decideReq("GET", publicURL+"/nothing", "", ""))
		if d.Allowed || d.Status != 404 || d.Route != "" {
			t.Fatalf("decision %+v", d)
		}
	})
	t.Run("policy", func(t *testing.T) {
		d := e.gw.Decide(e.decideReq("DELETE", publicURL+"/orders/1", publicURL+"/orders/1", e.token(map[string]any{"jti": "t2"})))
		if d.Allowed || d.Status != 403 || !strings.HasPrefix(d.Reason, "policy_") {
			t.Fatalf("decision %+v %s", d, d.Body)
		}
	})
}

// TestDecideOriginalURL: the proof must name the URL the client used, as
// the front door rebuilt it in r.URL, not the gateway's public_url.
func TestDecideOriginalURL(t *testing.T) {
	e := newEnv(t, nil)
	httpURL := strings.Replace(publicURL, "https:", "http:", 1)
	tok := e.token(nil)
	t.Run("scheme_as_used", func(t *testing.T) {
		if d := e.gw.Decide(e.decideReq("GET", httpURL+"/orders/1", httpURL+"/orders/1", tok)); !d.Allowed {
			t.Fatalf("decision %+v %s", d, d.Body)
		}
	})
	t.Run("public_url_proof_for_other_scheme", func(t *testing.T) {
		d := e.gw.Decide(e.decideReq("GET", httpURL+"/orders/1", publicURL+"/orders/1", tok))
		if d.Allowed || d.Status != 401 {
			t.Fatalf("decision %+v", d)
		}
	})
	t.Run("rewritten_path", func(t *testing.T) {
		d := e.gw.Decide(e.decideReq("GET", publicURL+"/orders/2", publicURL+"/orders/1", tok))
		if d.Allowed || d.Status != 401 {
			t.Fatalf("decision %+v", d)
		}
	})
}

// TestDecideMatchesServe: the refusals Decide describes are the ones the
// reverse proxy sends, byte for byte.
func TestDecideMatchesServe(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct{ method, path, auth string }{
		{"GET", "/orders/1", ""},
		{"GET", "/orders/1", "Bearer abc"},
		{"GET", "/orders/1", "DPoP ???"},
		{"GET", "/nothing", ""},
		{"GET", "/orders/%2e%2e/x", ""},
		{"GET", "/orders/1?_method=DELETE", "DPoP abc"},
	} {
		mk := func() *http.Request {
			r := httptest.NewRequest(c.method, publicURL+c.path, nil)
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			return r
		}
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, mk())
		d := e.gw.Decide(mk())
		if d.Allowed || d.Status != w.Code || string(d.Body) != w.Body.String() || d.ContentType != w.Header().Get("Content-Type") {
			t.Errorf("%s %s: Decide %d %q %q, serve %d %q %q", c.method, c.path, d.Status, d.Body, d.ContentType, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
		for _, h := range []string{"WWW-Authenticate", "Cache-Control", "Retry-After"} {
			if d.Header.Get(h) != w.Header().Get(h) {
				t.Errorf("%s %s: %s Decide %q, serve %q", c.method, c.path, h, d.Header.Get(h), w.Header().Get(h))
			}
		}
	}
}

// TestDecideConcurrent: Decide is called from many goroutines at once (an
// ext_authz server's), each with its own proof; run with -race.
func TestDecideConcurrent(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(nil)
	reqs := make([]*http.Request, 32)
	for i := range reqs {
		reqs[i] = e.decideReq("GET", publicURL+"/orders/1", publicURL+"/orders/1", tok)
	}
	errs := make(chan string, len(reqs))
	for _, r := range reqs {
		go func() {
			if d := e.gw.Decide(r); !d.Allowed || d.Header.Get("X-Ward-Subject") != "alice" {
				errs <- d.Reason
				return
			}
			errs <- ""
		}()
	}
	for range reqs {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
