package bff

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/oauth"
)

// requestHeaders are the browser's headers an API call passes on; every
// other one (cookies, the CSRF header, Authorization, DPoP, Origin,
// forwarding and identity headers) stays at the BFF.
var requestHeaders = []string{
	"Accept", "Accept-Language", "Content-Type", "Content-Language",
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "X-Request-Id",
}

// dropResponse are the API's response headers the browser never sees:
// hop-by-hop headers (RFC 9110 §7.6.1), cookies (the API cannot set
// cookies on the app's site), and the DPoP exchange, which is the BFF's.
var dropResponse = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Set-Cookie": true, "Www-Authenticate": true, "Dpop-Nonce": true, "Authentication-Info": true,
}

// proxy forwards one API call of the app to the API with the session's
// access token and a fresh DPoP proof for exactly that method and URL
// (RFC 9449 §7), renewing the token first when it is about to expire.
// rest is the path after the prefix's /api.
func (s *Site) proxy(w http.ResponseWriter, r *http.Request, rest string) {
	ctx := r.Context()
	if e := s.checkRequest(r); e != nil {
		s.fail(w, r, "api", e)
		return
	}
	// rest is clean: ServeHTTP read the path with policy.CleanPath.
	clean := rest
	if clean == "" {
		clean = "/"
	}
	sid, sess, e := s.active(ctx, r, true)
	if e != nil {
		s.fail(w, r, "api", e)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		s.fail(w, r, "api", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "body", Description: "cannot read the request body"})
		return
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		s.fail(w, r, "api", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusRequestEntityTooLarge, Reason: "body_too_large", Description: "request body too large"})
		return
	}
	target := *s.api
	target.Path = s.api.Path + clean
	target.RawPath = ""
	target.RawQuery = r.URL.RawQuery
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body) // GetBody: the call can be sent again after use_dpop_nonce
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), rd)
	if err != nil {
		s.fail(w, r, "api", &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusBadRequest, Reason: "bad_request", Description: "cannot build the API request"})
		return
	}
	for _, h := range requestHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
	cl, err := s.apiClient(ctx, sid, sess)
	if err != nil {
		s.fail(w, r, "api", unavailable(err, "the authorization server cannot be reached"))
		return
	}
	tok := &oauth2.Token{AccessToken: sess.AccessToken, TokenType: oauth.TokenTypeDPoP, Expiry: sess.Expiry}
	resp, err := cl.HTTPClient(oauth2.StaticTokenSource(tok)).Do(out)
	if err != nil {
		status, reason := http.StatusBadGateway, "upstream_error"
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			status, reason = http.StatusGatewayTimeout, "upstream_timeout"
		}
		s.fail(w, r, "api", &oauth.Error{Code: oauth.TemporarilyUnavailable, Status: status, Reason: reason, Description: "the API cannot be reached", Err: err})
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for name, v := range resp.Header {
		if !dropResponse[name] && !strings.HasPrefix(name, "Proxy-") {
			h[name] = v
		}
	}
	h.Set("Cache-Control", "no-store")
	s.event("api", "ok")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
