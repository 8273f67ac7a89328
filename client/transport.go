package client

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardauth/ward/dpop"
)

// Transport is an http.RoundTripper that adds a fresh DPoP proof (RFC 9449
// §4) to every request: with the ath claim when the request carries an
// "Authorization: DPoP <token>" header, with the nonce the origin last
// sent in DPoP-Nonce (§8, §9), and with an iat corrected by the origin's
// clock skew as seen in its Date header, within a bound. When a server
// asks for a nonce (use_dpop_nonce, as a 400 JSON error from a token
// endpoint or a 401 WWW-Authenticate challenge from a resource server) it
// retries the request once with the nonce; a request with a body is
// retried only when it can be replayed (Request.GetBody, which
// http.NewRequest sets for in-memory bodies).
//
// A Transport is safe for concurrent use.
type Transport struct {
	// base sends the requests.
	base    http.RoundTripper
	key     crypto.Signer
	thumb   string
	clock   func() time.Time
	maxSkew time.Duration

	mu      sync.Mutex
	origins map[string]*origin
}

var _ http.RoundTripper = (*Transport)(nil)

// origin is what a Transport remembers about one scheme://host:port.
type origin struct {
	signer *dpop.Signer
	nonce  atomic.Pointer[string]
	skew   atomic.Int64 // nanoseconds to add to the local clock
}

// NewTransport returns a Transport signing with the key of WithKey (or a
// new P-256 key) and sending through the Transport of WithHTTPClient's
// client (or http.DefaultTransport). It takes the CommonOptions:
// WithHTTPClient, WithKey, WithClock, WithMaxClockSkew.
func NewTransport(opts ...TransportOption) (*Transport, error) {
	o := newTransportOptions(opts)
	return newTransport(&o)
}

func newTransport(o *options) (*Transport, error) {
	if o.key == nil {
		k, err := dpop.GenerateKey(dpop.ES256)
		if err != nil {
			return nil, fmt.Errorf("client: generate key: %w", err)
		}
		o.key = k
	}
	base := o.httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(*Transport); ok {
		return nil, errors.New("client: the HTTP client's transport is already a DPoP Transport")
	}
	t := &Transport{base: base, key: o.key, clock: o.clock, maxSkew: o.maxSkew, origins: map[string]*origin{}}
	// A signer now, to check the key once and learn its thumbprint.
	s, err := dpop.NewSigner(o.key, dpop.WithClock(o.clock))
	if err != nil {
		return nil, fmt.Errorf("client: DPoP key: %w", err)
	}
	t.thumb = s.Thumbprint()
	return t, nil
}

// Thumbprint returns the RFC 7638 thumbprint of the DPoP key: the jkt the
// server binds tokens to.
func (t *Transport) Thumbprint() string { return t.thumb }

// Key returns the DPoP key.
func (t *Transport) Key() crypto.Signer { return t.key }

// Nonce returns the last DPoP-Nonce received from the origin of rawURL
// ("" if none).
func (t *Transport) Nonce(rawURL string) string {
	o := t.lookup(originOf(rawURL), false)
	if o == nil {
		return ""
	}
	if n := o.nonce.Load(); n != nil {
		return *n
	}
	return ""
}

// ClockSkew returns the correction applied to proofs for the origin of
// rawURL.
func (t *Transport) ClockSkew(rawURL string) time.Duration {
	if o := t.lookup(originOf(rawURL), false); o != nil {
		return time.Duration(o.skew.Load())
	}
	return 0
}

func originOf(rawURL string) string {
	// scheme://authority, lower-cased.
	s, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(s + "://" + rest)
}

func (t *Transport) lookup(key string, create bool) *origin {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.origins[key]
	if o != nil || !create {
		return o
	}
	if len(t.origins) >= maxOrigins {
		// Bounded: forget one origin (its nonce is fetched again).
		for k := range t.origins {
			delete(t.origins, k)
			break
		}
	}
	o = &origin{}
	clock := t.clock
	o.signer, _ = dpop.NewSigner(t.key, dpop.WithClock(func() time.Time {
		return clock().Add(time.Duration(o.skew.Load()))
	}))
	t.origins[key] = o
	return o
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("client: request without URL")
	}
	o := t.lookup(originOf(req.URL.String()), true)
	token := ""
	if scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
		token = strings.TrimSpace(tok)
	}
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 0 {
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("client: replay request body: %w", err)
				}
				r.Body = b
			} else {
				r.Body = nil
			}
		}
		popts := []dpop.ProofOption{dpop.WithAccessToken(token)}
		sentNonce := ""
		if n := o.nonce.Load(); n != nil && *n != "" {
			sentNonce = *n
			popts = append(popts, dpop.WithNonce(sentNonce))
		}
		proof, err := o.signer.Proof(r.Method, r.URL.String(), popts...)
		if err != nil {
			if attempt == 0 {
				closeBody(req)
			}
			return nil, fmt.Errorf("client: DPoP proof: %w", err)
		}
		r.Header.Set("DPoP", proof)
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		t.learnSkew(o, resp)
		newNonce := resp.Header.Get("DPoP-Nonce")
		if newNonce != "" {
			o.nonce.Store(&newNonce)
		}
		if attempt > 0 || newNonce == "" || newNonce == sentNonce {
			return resp, nil
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			// Cannot replay: the caller gets the error, and the nonce is
			// remembered for its next request.
			return resp, nil
		}
		retry, resp, err := asksForNonce(resp)
		if err != nil || !retry {
			return resp, err
		}
	}
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// learnSkew records the origin's clock offset from its Date header. Date
// has one-second resolution, so offsets under two seconds are taken as
// none; larger ones are clamped to maxSkew.
func (t *Transport) learnSkew(o *origin, resp *http.Response) {
	if t.maxSkew <= 0 {
		return
	}
	d := resp.Header.Get("Date")
	if d == "" {
		return
	}
	server, err := http.ParseTime(d)
	if err != nil {
		return
	}
	skew := server.Sub(t.clock())
	if skew > -2*time.Second && skew < 2*time.Second {
		skew = 0
	}
	skew = min(max(skew, -t.maxSkew), t.maxSkew)
	o.skew.Store(int64(skew))
}

// asksForNonce reports whether resp is a use_dpop_nonce error (RFC 9449
// §8: 400 with a JSON error from an authorization server; §9: 401 with a
// DPoP challenge from a resource server). When it is not, resp is
// returned readable as before.
func asksForNonce(resp *http.Response) (bool, *http.Response, error) {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		for _, c := range ParseChallenges(resp.Header.Values("WWW-Authenticate")) {
			if strings.EqualFold(c.Scheme, "DPoP") && c.Params["error"] == dpop.CodeUseNonce {
				drain(resp)
				return true, nil, nil
			}
		}
		return false, resp, nil
	case http.StatusBadRequest:
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt != "application/json" {
			return false, resp, nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		resp.Body.Close()
		if err != nil {
			return false, nil, err
		}
		var e struct {
			Error string `json:"error"`
		}
		if len(body) <= maxErrorBody && json.Unmarshal(body, &e) == nil && e.Error == dpop.CodeUseNonce {
			return true, nil, nil
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return false, resp, nil
	}
	return false, resp, nil
}

// drain reads a little of the body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}
