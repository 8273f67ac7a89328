package authz

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/fapi"
	"github.com/wardauth/ward/internal/loglimit"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// Endpoint paths, relative to the issuer.
const (
	PathMetadata = "/.well-known/oauth-authorization-server"
	// PathOIDCConfiguration serves the same document as PathMetadata
	// (OpenID Connect Discovery 1.0 §4; metadata.go).
	PathOIDCConfiguration = "/.well-known/openid-configuration"
	// PathUserInfo (userinfo.go) and PathEndSession (endsession.go) are
	// advertised in the metadata (OIDC Core §5.3, RP-Initiated Logout
	// 1.0 §2).
	PathUserInfo   = "/userinfo"
	PathEndSession = "/end_session"
	PathAuthorize  = "/authorize"
	PathPAR        = "/par"
	PathToken      = "/token"
	PathRevoke     = "/revoke"
	PathIntrospect = "/introspect"
	PathJWKS       = "/jwks"
	PathLogin      = "/login"
	PathConsent    = "/consent"
	PathContinue   = "/authorize/continue"
	PathStatic     = "/static/"
)

// Defaults of Options.
const (
	DefaultClientCacheTTL = 30 * time.Second
	DefaultSweepInterval  = time.Minute
	DefaultSweepBatch     = 1000
	DefaultKeysInterval   = 5 * time.Minute
	// flowTTL bounds the time between /authorize and the code: the user
	// has that long to log in and consent.
	flowTTL = 10 * time.Minute
	// maxFormBytes bounds every request body the server parses.
	maxFormBytes = 64 << 10
)

// Sentinel errors of New.
var (
	// ErrConfig: the configuration or options cannot make a server.
	ErrConfig = errors.New("authz: bad configuration")
)

// Options are the dependencies of a Server that the configuration file does
// not describe.
type Options struct {
	// Store holds clients, users, codes, token families and sessions.
	// Required.
	Store store.Store
	// Keys signs access tokens. Required.
	Keys *keys.Manager
	// Logger receives security events (refresh-token reuse, code replay)
	// and server errors; never a token or secret. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Replay remembers DPoP proofs (jkt, jti) for RFC 9449 §11.1. Default:
	// an in-memory store, enough for one instance; several instances need
	// a shared one.
	Replay dpop.ReplayStore
	// AssertionJTIsInStore makes client assertions' jti single use in the
	// Store (one row each, as every instance sees it) instead of Replay.
	// ward serve sets it for PostgreSQL without Redis, where Replay is in
	// memory per instance and would let a captured assertion be replayed
	// once at each instance (docs/AUTHZ.md).
	AssertionJTIsInStore bool
	// NonceSecret seals DPoP nonces when dpop.nonce.enabled; at least 32
	// bytes, the same on every instance. Default: the base64 value of
	// config DPoP.Nonce.Secret, else the file DPoP.Nonce.SecretFile.
	NonceSecret []byte
	// FlowKey (32 bytes) encrypts the authorization-flow state carried
	// between /authorize and the login and consent pages, and keys the
	// CSRF tokens. Several instances must share it. Default: random at
	// start (one instance only; flows in progress fail after a restart).
	FlowKey []byte
	// ClientCacheTTL is how long a client read from the store is reused.
	// Default DefaultClientCacheTTL; negative disables the cache.
	ClientCacheTTL time.Duration
	// SweepInterval, SweepBatch: how often and how much Run deletes of
	// expired rows. Defaults DefaultSweepInterval, DefaultSweepBatch.
	SweepInterval time.Duration
	SweepBatch    int
	// KeysInterval: how often Run calls keys.Manager.Maintain. Default
	// DefaultKeysInterval.
	KeysInterval time.Duration
	// RateLimitStore keeps the rate_limits state; default in memory
	// (ratelimit.go). Several instances need a shared one.
	RateLimitStore ratelimit.Store
	// Registry receives the server's Prometheus metrics (metrics.go),
	// served by MetricsHandler. Default: a registry of the server's own.
	Registry *prometheus.Registry
	// Events, when set, receives the security events of the server
	// (events.go, docs/EVENTS.md): replayed refresh tokens and codes,
	// failed logins and locked accounts. Nil: none.
	Events *secevent.Emitter
	// Blocks, when set, refuses blocked addresses at /token and /par
	// and blocked keys once their proof verified, and is told of each
	// refused proof that counts (block.go). Nil: no blocking.
	Blocks *block.Blocker
	// MTLS says where client certificates (RFC 8705, mtls.go) may come
	// from besides a TLS connection that verified them: its Roots verify
	// certificates the listener accepted unverified
	// (mtls.AllowUnverifiedClientCerts, needed for
	// self_signed_tls_client_auth) and forwarded by its Trusted proxies.
	// nil: only certificates the listener verified authenticate
	// tls_client_auth clients.
	MTLS *mtls.TrustedProxy
	// PairwiseSalt (at least 32 bytes) keys pairwise subject identifiers
	// (subject.go); every instance needs the same, for good. Default: the
	// base64 value of config OIDC.PairwiseSalt, else of the file
	// OIDC.PairwiseSaltFile; none when neither is set.
	PairwiseSalt []byte
	// Backchannel tunes the delivery of back-channel logout tokens
	// (backchannel.go).
	Backchannel BackchannelOptions
}

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	cfg  *config.Config
	st   store.Store
	km   *keys.Manager
	log  *slog.Logger
	now  func() time.Time
	dpop *dpop.Verifier
	// authGate admits client authentications while their failure
	// allowance covers the attempts in flight (authgate.go).
	authGate authGate
	// loginLocks serialise login attempts per account (login.go).
	loginLocks authLocks
	// refusals bounds the log lines of refusals (refusallog.go).
	refusals *loglimit.Limiter
	nonces   bool
	issuer   string
	flowKey  []byte
	opts     Options
	clients  *clientCache
	// assertionAlgs is the allow-list for private_key_jwt (RFC 7523,
	// RFC 8725 §3.1).
	assertionAlgs []jose.SignatureAlgorithm
	// requestObjectAlgs is the allow-list for request objects (RFC 9101
	// §6.1, RFC 8725 §3.1): the asymmetric algorithms of assertionAlgs.
	requestObjectAlgs []jose.SignatureAlgorithm
	dpopAlgs          []string
	mux               *http.ServeMux
	handler           http.Handler // mux behind withHSTS
	pages             *pages
	sweepMu           sync.Mutex
	limits            *limits // rate limits and failed-login throttling (ratelimit.go)
	metrics           *metrics
	// pairwiseSalt keys pairwise subjects (subject.go); nil: none.
	pairwiseSalt []byte
	bc           *backchannel // back-channel logout sender (backchannel.go)
	// eventsPush verifies pushed SETs (events_push.go); nil: the
	// endpoint is off.
	eventsPush *secevent.SETReceiver
	// device is device_authorization with its defaults (RFC 8628).
	device config.DeviceAuthorization
}

// New builds a Server from a validated configuration.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if cfg == nil || cfg.Issuer == "" {
		return nil, fmt.Errorf("%w: an issuer is required", ErrConfig)
	}
	if opts.Store == nil || opts.Keys == nil {
		return nil, fmt.Errorf("%w: Options.Store and Options.Keys are required", ErrConfig)
	}
	opts.setDefaults()
	s := &Server{
		cfg:    cfg,
		st:     opts.Store,
		km:     opts.Keys,
		log:    opts.Logger,
		now:    opts.Now,
		issuer: strings.TrimSuffix(cfg.Issuer, "/"),
		opts:   opts,
		// Up to 20 lines of one refusal reason at once, then 5 a second.
		refusals: loglimit.New(5, 20, opts.Now),
		assertionAlgs: []jose.SignatureAlgorithm{
			jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.PS256, jose.PS384, jose.PS512, jose.RS256,
		},
	}
	s.assertionAlgs = fapiAssertionAlgs(cfg.AuthorizationServer.Profile, s.assertionAlgs)
	s.requestObjectAlgs = slices.Clone(s.assertionAlgs)
	var err error
	if s.flowKey, err = flowKeyOf(opts.FlowKey); err != nil {
		return nil, err
	}
	if err := s.newDPoPVerifier(); err != nil {
		return nil, err
	}
	if err := s.newParts(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// setDefaults fills in the options left zero (the Default* constants).
func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientCacheTTL == 0 {
		o.ClientCacheTTL = DefaultClientCacheTTL
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = DefaultSweepBatch
	}
	if o.KeysInterval <= 0 {
		o.KeysInterval = DefaultKeysInterval
	}
	if o.Replay == nil {
		o.Replay = dpop.NewMemoryReplayStore(0, o.Now)
	}
}

// flowKeyOf is Options.FlowKey, or a random key (one instance only) when
// none was given; it must be 32 bytes.
func flowKeyOf(k []byte) ([]byte, error) {
	if k == nil {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%w: Options.FlowKey must be 32 bytes", ErrConfig)
	}
	return k, nil
}

// newDPoPVerifier builds the verifier of the proofs at /token, /par and
// /userinfo: the configured algorithms, the iat window, the replay store
// and, when dpop.nonce.enabled, stateless server nonces.
func (s *Server) newDPoPVerifier() error {
	cfg, opts := s.cfg, s.opts
	s.dpopAlgs = cfg.DPoP.Algorithms
	if len(s.dpopAlgs) == 0 {
		s.dpopAlgs = []string{dpop.ES256, dpop.EdDSA}
	}
	vopts := []dpop.VerifierOption{
		dpop.WithAllowedAlgorithms(s.dpopAlgs...),
		dpop.WithClock(opts.Now),
		dpop.WithReplayStore(opts.Replay),
	}
	if cfg.DPoP.IatMaxAge > 0 {
		leeway := cfg.DPoP.IatLeeway
		if cfg.AnyProfile() && leeway < fapi.IatLeeway {
			// FAPI 2.0 Security Profile §5.3.2.1: an iat up to 10
			// seconds in the future is accepted.
			leeway = fapi.IatLeeway
		}
		vopts = append(vopts, dpop.WithIATWindow(cfg.DPoP.IatMaxAge, leeway))
	}
	if cfg.DPoP.Nonce.Enabled {
		secret, err := nonceSecret(cfg, opts.NonceSecret)
		if err != nil {
			return err
		}
		ttl := cfg.DPoP.Nonce.TTL
		if ttl <= 0 {
			ttl = 5 * time.Minute
		}
		// A stateless nonce lives between one and two steps.
		src, err := dpop.NewStatelessNonces(s.issuer, ttl/2, secret)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		vopts = append(vopts, dpop.WithNonces(src))
		s.nonces = true
	}
	v, err := dpop.NewVerifier(vopts...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s.dpop = v
	return nil
}

// newParts builds the rest of the server: the pairwise salt, the client
// cache, the rate limits, the metrics, the back-channel logout sender and
// the pages.
func (s *Server) newParts() error {
	cfg, opts := s.cfg, s.opts
	var err error
	if s.pairwiseSalt, err = loadPairwiseSalt(cfg, opts.PairwiseSalt); err != nil {
		return err
	}
	s.clients = newClientCache(opts.Store, opts.ClientCacheTTL, opts.Now)
	s.device = cfg.DeviceAuthorization.Effective()
	if s.limits, err = newLimits(cfg, opts.RateLimitStore, opts.Now); err != nil {
		return err
	}
	if s.metrics, err = newMetrics(opts.Registry); err != nil {
		return err
	}
	if s.bc, err = newBackchannel(opts.Backchannel, s.metrics.reg); err != nil {
		return err
	}
	if s.eventsPush, err = s.newEventsPush(); err != nil {
		return err
	}
	s.pages, err = newPages(cfg.UI)
	return err
}

func nonceSecret(cfg *config.Config, given []byte) ([]byte, error) {
	if given != nil {
		return given, nil
	}
	raw := cfg.DPoP.Nonce.Secret
	if raw == "" && cfg.DPoP.Nonce.SecretFile != "" {
		b, err := os.ReadFile(cfg.DPoP.Nonce.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("%w: dpop nonce secret: %w", ErrConfig, err)
		}
		raw = string(b)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: dpop.nonce.enabled needs a nonce secret", ErrConfig)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: the dpop nonce secret is not base64", ErrConfig)
}

// Issuer returns the issuer identifier.
func (s *Server) Issuer() string { return s.issuer }

// Handler returns the HTTP handler serving every endpoint under the
// issuer's path.
func (s *Server) Handler() http.Handler { return s.handler }

// withHSTS sets Strict-Transport-Security on every response when the
// issuer is https (RFC 6797 §7.1; browsers ignore it over plain http, so
// it goes by the issuer, which is what clients and browsers are sent to,
// also behind a TLS-terminating proxy). One place, before any handler
// writes, so no page or endpoint can be left without it.
func (s *Server) withHSTS(next http.Handler) http.Handler {
	v := s.cfg.AuthorizationServer.HSTS
	if v == "" {
		v = config.DefaultHSTS
	}
	if v == "off" || !strings.HasPrefix(s.issuer, "https://") {
		return next
	}
	vals := []string{v}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Strict-Transport-Security"] = vals
		next.ServeHTTP(w, r)
	})
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+PathMetadata, s.handleMetadata)
	m.HandleFunc("GET "+PathOIDCConfiguration, s.handleMetadata)
	m.HandleFunc("GET "+PathJWKS, s.handleJWKS)
	m.HandleFunc(PathAuthorize, s.handleAuthorize)
	m.HandleFunc(PathPAR, s.handlePAR)
	m.HandleFunc(PathToken, s.handleToken)
	m.HandleFunc(PathRevoke, s.handleRevoke)
	m.HandleFunc(PathIntrospect, s.handleIntrospect)
	m.HandleFunc("POST "+PathRevocations, s.handleRevocations)
	if s.eventsPush != nil {
		m.HandleFunc("POST "+PathEventsPush, s.handleEventsPush)
	}
	m.HandleFunc(PathLogin, s.handleLogin)
	m.HandleFunc(PathContinue, s.handleContinue)
	m.HandleFunc(PathConsent, s.handleConsent)
	m.HandleFunc(PathUserInfo, s.handleUserInfo)
	m.HandleFunc(PathEndSession, s.handleEndSession)
	m.HandleFunc("POST "+PathEndSessionConfirm, s.handleEndSessionConfirm)
	m.HandleFunc("GET "+PathStatic+"ward.css", s.handleCSS)
	if s.device.Enabled {
		m.HandleFunc(PathDeviceAuthorization, s.handleDeviceAuthorization) // device_authorization.go
		m.HandleFunc(PathDevice, s.handleDevice)                           // device_page.go
	}
	m.HandleFunc("GET /{$}", s.handleHome) // pages.go
	s.registrationRoutes(m)                // register.go
	s.mux = m
	s.handler = s.withHSTS(m)
}

// url returns the absolute URL of an endpoint.
func (s *Server) url(path string) string { return s.issuer + path }

// Run does the background work until ctx ends: it deletes expired rows in
// batches (codes, tokens, families, sessions, PAR requests, one-time
// values), keeps the signing keys rotated (first making the RS256 key
// when a static client signs with it) and delivers back-channel logout
// tokens (backchannel.go). It returns nil when ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.ensureStaticKeyChains(ctx)
	var bc sync.WaitGroup
	bc.Go(func() { s.runBackchannel(ctx) })
	defer bc.Wait()
	sweep := time.NewTicker(s.opts.SweepInterval)
	defer sweep.Stop()
	maintain := time.NewTicker(s.opts.KeysInterval)
	defer maintain.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sweep.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("authz: sweeping expired rows", "err", err)
			}
		case <-maintain.C:
			if err := s.km.Maintain(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.log.Error("authz: maintaining signing keys", "err", err)
			}
		}
	}
}

// Sweep deletes expired rows in batches of Options.SweepBatch until a batch
// comes back short (at most 100 batches per call, so one call never holds
// the database for long) and returns how many rows it removed.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	total := 0
	for range 100 {
		n, err := s.st.DeleteExpired(ctx, s.now(), s.opts.SweepBatch)
		total += n
		if err != nil {
			return total, err
		}
		if n < s.opts.SweepBatch {
			break
		}
	}
	return total, nil
}

// writeError renders a protocol error of a JSON endpoint: the one place
// where errors reach the wire (RFC 6749 §5.2). Server errors are logged
// with their cause, which never reaches the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asProtocolError(err)
	if e.Status >= 500 {
		s.log.Error("authz: request failed", "path", r.URL.Path, "err", err)
	}
	annotateRefusal(r, e) // tracing.go
	oauth.WriteJSON(w, e)
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("authz: crypto/rand failed: " + err.Error()) // unreachable since Go 1.24
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is the key under which codes, refresh tokens and sessions are
// stored.
func hashToken(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
