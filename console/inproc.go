package console

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// inproc is the console's transport to the authorization server it is
// mounted in: the BFF's calls (PAR, token, introspection, revocation) and
// the admin API calls it forwards, and the resource middleware's
// discovery and JWKS, are served by the server's handler in this
// process, never over the network. It refuses every other origin: the
// console talks to no one else.
type inproc struct {
	h      http.Handler
	origin string // scheme://host[:port] of the issuer
	https  bool
}

func newInproc(h http.Handler, issuer string) (*inproc, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: issuer %q", ErrConfig, issuer)
	}
	return &inproc{h: h, origin: u.Scheme + "://" + u.Host, https: u.Scheme == "https"}, nil
}

// RoundTrip serves req in process. The answers are small (pages, token
// responses), so they are buffered.
func (t *inproc) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.EqualFold(req.URL.Scheme+"://"+req.URL.Host, t.origin) {
		return nil, fmt.Errorf("console: %s is not this server (%s)", req.URL.Redacted(), t.origin)
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.RemoteAddr = "127.0.0.1:0" // the console itself
	if in.Body == nil {
		in.Body = http.NoBody
	}
	if t.https {
		in.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
