package client

import (
	"crypto"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of the options.
const (
	// DefaultMaxClockSkew bounds the correction applied to a proof's iat
	// from a server's Date header.
	DefaultMaxClockSkew = 5 * time.Minute
	// DefaultRefreshMargin: a token is renewed this long before it expires.
	DefaultRefreshMargin = 30 * time.Second
	// maxOrigins bounds the per-origin state (nonce, clock skew) a
	// Transport remembers.
	maxOrigins = 1024
	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 64 << 10
)

// Option configures a Client (New, Discover, DiscoverEndpoint). Options
// are sealed: only this package can make them.
type Option interface{ applyClient(*options) }

// TransportOption configures NewTransport. Options are sealed: only this
// package can make them.
type TransportOption interface{ applyTransport(*options) }

// CommonOption configures both a Client and a Transport (WithHTTPClient,
// WithKey, WithClock, WithMaxClockSkew). An option that concerns a Client
// only is an Option, so passing it to NewTransport does not compile.
type CommonOption interface {
	Option
	TransportOption
}

type clientOption func(*options)

func (f clientOption) applyClient(o *options) { f(o) }

type commonOption func(*options)

func (f commonOption) applyClient(o *options)    { f(o) }
func (f commonOption) applyTransport(o *options) { f(o) }

type options struct {
	httpClient    *http.Client
	key           crypto.Signer
	clock         func() time.Time
	maxSkew       time.Duration
	secret        string
	authStyle     AuthStyle
	assertionKey  crypto.Signer // WithPrivateKeyJWT
	assertionKID  string
	scopes        []string
	resources     []string
	refreshMargin time.Duration
	saver         TokenSaver
	opener        func(url string) error
	usePAR        *bool
	callbackPath  string
	certBound     bool // WithCertificateBinding
	maxAge        *time.Duration
	prompt        string
	claims        string
	jarm          bool // WithJARM
}

func newOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.applyClient(&o)
		}
	}
	return o.withDefaultClient()
}

func newTransportOptions(opts []TransportOption) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.applyTransport(&o)
		}
	}
	return o.withDefaultClient()
}

func defaultOptions() options {
	return options{clock: time.Now, maxSkew: DefaultMaxClockSkew, refreshMargin: DefaultRefreshMargin, callbackPath: "/callback"}
}

func (o options) withDefaultClient() options {
	if o.httpClient == nil {
		o.httpClient = http.DefaultClient
	}
	return o
}

// WithHTTPClient sets the HTTP client whose Transport, Timeout, Jar and
// CheckRedirect every request uses. Default http.DefaultClient. The client
// is never taken from a context value.
func WithHTTPClient(c *http.Client) CommonOption {
	return commonOption(func(o *options) { o.httpClient = c })
}

// WithKey sets the DPoP key: any crypto.Signer (ECDSA P-256/384/521,
// Ed25519, RSA ≥ 2048 bits), including one held in a KMS or hardware
// token. Default: a new P-256 key in memory. See LoadOrCreateKey to keep
// a key in a file.
func WithKey(k crypto.Signer) CommonOption {
	return commonOption(func(o *options) { o.key = k })
}

// WithClock sets the clock read for proofs and token expiry. Default
// time.Now.
func WithClock(now func() time.Time) CommonOption {
	return commonOption(func(o *options) { o.clock = now })
}

// WithMaxClockSkew bounds the correction applied to proofs from the Date
// header of a server whose clock differs from ours: a larger difference
// is clamped to d. Zero disables the correction. Default
// DefaultMaxClockSkew.
func WithMaxClockSkew(d time.Duration) CommonOption {
	return commonOption(func(o *options) { o.maxSkew = max(d, 0) })
}

// AuthStyle is how a confidential client authenticates at the token and
// PAR endpoints.
type AuthStyle int

const (
	// AuthStyleBasic sends client_secret_basic (RFC 6749 §2.3.1), the
	// default.
	AuthStyleBasic AuthStyle = iota
	// AuthStylePost sends client_secret_post.
	AuthStylePost
)

// WithClientSecret makes the client confidential, authenticating with
// this secret in the given style. Without it the client is public
// (token_endpoint_auth_method none).
func WithClientSecret(secret string, style AuthStyle) Option {
	return clientOption(func(o *options) { o.secret, o.authStyle = secret, style })
}

// WithPrivateKeyJWT makes the client confidential, authenticating with
// client assertions signed by key (private_key_jwt, RFC 7523 §2.2): ECDSA
// P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256), kid when not empty. It
// wins over WithClientSecret.
func WithPrivateKeyJWT(key crypto.Signer, kid string) Option {
	return clientOption(func(o *options) { o.assertionKey, o.assertionKID = key, kid })
}

// WithScopes sets the scopes requested.
func WithScopes(scopes ...string) Option {
	return clientOption(func(o *options) { o.scopes = append([]string(nil), scopes...) })
}

// WithResource sets RFC 8707 resource indicators: the audiences requested.
func WithResource(resources ...string) Option {
	return clientOption(func(o *options) { o.resources = append([]string(nil), resources...) })
}

// WithRefreshMargin sets how long before expiry a TokenSource renews its
// token. Default DefaultRefreshMargin.
func WithRefreshMargin(d time.Duration) Option {
	return clientOption(func(o *options) { o.refreshMargin = max(d, 0) })
}

// TokenSaver persists a token each time a TokenSource obtains one, so a
// rotated refresh token survives the process. It is called, one call at a
// time, after the new token has replaced the old one in memory and before
// any caller is given it; when it fails the token stays in memory (the
// old refresh token is spent) and the caller gets the error.
type TokenSaver interface {
	SaveToken(tok *oauth2.Token) error
}

// WithTokenSaver sets a TokenSaver for the TokenSources of a Client.
func WithTokenSaver(s TokenSaver) Option {
	return clientOption(func(o *options) { o.saver = s })
}

// WithBrowser sets the function that opens the authorization URL in the
// user's browser for AuthorizeLoopback. Default OpenBrowser. Tests pass a
// function that drives the login with an HTTP client.
func WithBrowser(open func(url string) error) Option {
	return clientOption(func(o *options) { o.opener = open })
}

// WithPAR forces pushed authorization requests (RFC 9126) on or off.
// Default: on when the server has a PAR endpoint.
func WithPAR(on bool) Option {
	return clientOption(func(o *options) { o.usePAR = &on })
}

// WithJARM asks for JWT-secured authorization responses (JARM,
// response_mode=jwt): the redirect must carry one response parameter, a
// JWT the issuer signed for this client, checked by JARMVerifier before
// its code or error is used; a plain redirect is refused (ErrJARM).
func WithJARM() Option {
	return clientOption(func(o *options) { o.jarm = true })
}
