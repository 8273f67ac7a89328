package client

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/wardauth/ward/pkce"
)

// AuthRequest is an authorization request in progress: what the client
// must remember between sending the user to the authorization server and
// the redirect back.
type AuthRequest struct {
	// URL is where the user's browser goes.
	URL string
	// State is the CSRF token checked on return (RFC 6749 §10.12).
	State string
	// Verifier is the PKCE code verifier (RFC 7636).
	Verifier string
	// RedirectURI is the registered redirect URI the code comes back to.
	RedirectURI string
	// Nonce is the OpenID Connect nonce (Core §3.1.2.1), sent when the
	// scopes include openid; ExchangeRedirect then requires an ID token
	// carrying it.
	Nonce string
	// MaxAge is the max_age sent (WithMaxAge), checked against the ID
	// token's auth_time; zero when none was sent.
	MaxAge time.Duration
	// JARM: response_mode=jwt was sent (WithJARM); the response must be
	// a JWT that JARMVerifier accepts.
	JARM bool
}

// AuthCodeRequest prepares an authorization code request with PKCE S256,
// a random state and dpop_jkt binding the code to this client's key (RFC
// 9449 §10). When the server has a PAR endpoint (and WithPAR(false) was
// not given) the parameters are pushed (RFC 9126) and URL carries only
// client_id and request_uri.
func (c *Client) AuthCodeRequest(ctx context.Context, redirectURI string) (*AuthRequest, error) {
	if c.ep.AuthURL == "" {
		return nil, errors.New("client: Endpoint.AuthURL is required for the authorization code flow")
	}
	verifier, err := pkce.NewVerifier()
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("client: state: %w", err)
	}
	ar := &AuthRequest{State: base64.RawURLEncoding.EncodeToString(b[:]), Verifier: verifier, RedirectURI: redirectURI}
	params := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.clientID},
		"redirect_uri":          {redirectURI},
		"state":                 {ar.State},
		"code_challenge":        {pkce.Challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	if !c.o.certBound {
		params.Set("dpop_jkt", c.Thumbprint())
	}
	if c.o.jarm {
		params.Set("response_mode", "jwt") // JARM §2.3.4: query.jwt for code
		ar.JARM = true
	}
	if len(c.o.scopes) > 0 {
		params.Set("scope", strings.Join(c.o.scopes, " "))
	}
	if err := c.openIDParams(ar, params); err != nil {
		return nil, err
	}
	for _, r := range c.o.resources {
		params.Add("resource", r)
	}
	usePAR := c.ep.PARURL != ""
	if c.o.usePAR != nil {
		usePAR = *c.o.usePAR
		if usePAR && c.ep.PARURL == "" {
			return nil, errors.New("client: PAR requested but Endpoint.PARURL is empty")
		}
	}
	if usePAR {
		var out struct {
			RequestURI string `json:"request_uri"`
			ExpiresIn  int64  `json:"expires_in"`
		}
		// The PAR request goes through the DPoP transport too (RFC 9449
		// §10.1), and is authenticated like a token request.
		if err := c.postForm(ctx, c.ep.PARURL, params, http.StatusCreated, &out); err != nil {
			return nil, err
		}
		if out.RequestURI == "" {
			return nil, fmt.Errorf("%w: PAR response without request_uri", ErrBadResponse)
		}
		params = url.Values{"client_id": {c.clientID}, "request_uri": {out.RequestURI}}
	}
	sep := "?"
	if strings.Contains(c.ep.AuthURL, "?") {
		sep = "&"
	}
	ar.URL = c.ep.AuthURL + sep + params.Encode()
	return ar, nil
}

// ExchangeRedirect checks the authorization response (the query of the
// redirect) and redeems its code: an error parameter is returned as an
// *AuthorizationError; the state must match (ErrStateMismatch) and iss
// must name this client's issuer when present, or when the server
// promised it (ErrIssuerMismatch, RFC 9207 §2.4) — all before the code is
// sent anywhere.
//
// When the request carried a nonce (scope openid), the token response
// must carry an ID token that passes IDTokenVerifier.Verify with that
// nonce, the access token's at_hash and the max_age sent (OpenID Connect
// Core §3.1.3.7); its claims are then available from IDTokenOf.
//
// For a JARM request (WithJARM) the parameters are those of the one
// response JWT of q, verified by JARMVerifier first (ErrJARM).
func (c *Client) ExchangeRedirect(ctx context.Context, ar *AuthRequest, q url.Values) (*oauth2.Token, error) {
	q, err := c.authorizationResponse(ctx, ar, q)
	if err != nil {
		return nil, err
	}
	if err := c.checkResponse(ar, q); err != nil {
		return nil, err
	}
	tok, raw, err := c.exchange(ctx, q.Get("code"), ar.Verifier, ar.RedirectURI)
	if err != nil || ar.Nonce == "" {
		return tok, err
	}
	idt, err := c.verifyTokenResponse(ctx, tok, Expect{Nonce: ar.Nonce, AccessToken: tok.AccessToken, MaxAge: ar.MaxAge})
	if err != nil {
		return nil, err
	}
	raw[idTokenKey] = idt // after the response's own members: never theirs
	return tok, nil
}

func (c *Client) checkResponse(ar *AuthRequest, q url.Values) error {
	// iss first: an error response from a mixed-up server is not to be
	// trusted either (RFC 9207 §2.4).
	if iss, ok := q["iss"]; ok || c.ep.ISSParameterSupported {
		if !ok || len(iss) != 1 || c.ep.Issuer == "" || iss[0] != c.ep.Issuer {
			return fmt.Errorf("%w: got %q, want %q", ErrIssuerMismatch, q.Get("iss"), c.ep.Issuer)
		}
	}
	if st := q["state"]; len(st) != 1 || subtle.ConstantTimeCompare([]byte(st[0]), []byte(ar.State)) != 1 {
		return ErrStateMismatch
	}
	if e := q.Get("error"); e != "" {
		return &AuthorizationError{ErrorCode: e, ErrorDescription: q.Get("error_description"), ErrorURI: q.Get("error_uri")}
	}
	if q.Get("code") == "" {
		return fmt.Errorf("%w: authorization response without code", ErrBadResponse)
	}
	return nil
}

// AuthorizeLoopback runs the authorization code flow of a native app (RFC
// 8252): it listens on http://127.0.0.1:<ephemeral port>/callback, opens
// the browser (WithBrowser) at the authorization URL, waits for the
// redirect, checks iss and state, and redeems the code for a DPoP-bound
// token. The client must be registered with the redirect URI
// http://127.0.0.1/callback (any port, RFC 8252 §7.3). ctx bounds the
// whole flow, user included: give it a deadline.
func (c *Client) AuthorizeLoopback(ctx context.Context) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("client: loopback listener: %w", err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + c.o.callbackPath
	ar, err := c.AuthCodeRequest(ctx, redirect)
	if err != nil {
		return nil, err
	}
	got := make(chan url.Values, 1)
	var answered atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+c.o.callbackPath, func(w http.ResponseWriter, r *http.Request) {
		if !answered.CompareAndSwap(false, true) {
			http.Error(w, "this sign-in has already completed", http.StatusConflict)
			return
		}
		// The page first, the redirect's values after: a refused
		// redirect ends the flow at once, and the person must still
		// read why (loopbackpage.go).
		q := r.URL.Query()
		v, err := c.authorizationResponse(r.Context(), ar, q)
		if err == nil {
			err = c.checkResponse(ar, v)
		}
		writeLoopbackPage(w, err)
		got <- q
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	// Shutdown, not Close: the page being written reaches the browser
	// before the listener goes, even when the caller exits right after.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	open := c.o.opener
	if open == nil {
		open = OpenBrowser
	}
	if err := open(ar.URL); err != nil {
		return nil, fmt.Errorf("client: open browser: %w", err)
	}
	select {
	case q := <-got:
		return c.ExchangeRedirect(ctx, ar, q)
	case <-ctx.Done():
		return nil, fmt.Errorf("client: waiting for the authorization redirect: %w", ctx.Err())
	}
}

// OpenBrowser opens url in the user's default browser (xdg-open, open, or
// rundll32 on Windows).
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
