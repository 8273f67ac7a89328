package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/internal/strictjson"
)

const (
	defaultMaxAge       = 60 * time.Second
	defaultLeeway       = 10 * time.Second
	defaultMaxProofSize = 8 << 10
	maxJTILength        = 256
	maxNonceLength      = 512
)

// Proof is a verified DPoP proof.
type Proof struct {
	JTI       string
	Method    string // htm
	URL       string // htu as sent
	IssuedAt  time.Time
	Nonce     string
	ATH       string
	Algorithm string
	// Key is the proof's public key.
	Key crypto.PublicKey
	// Thumbprint is the RFC 7638 thumbprint of Key: what cnf.jkt binds to.
	Thumbprint string
}

// Request is what a proof is checked against.
type Request struct {
	// Proofs are the values of every DPoP header of the request
	// (http.Header.Values("DPoP")); exactly one is accepted.
	Proofs []string
	// Method is the HTTP method.
	Method string
	// URL is the externally visible URL of the request; query and fragment
	// are ignored.
	URL string
	// AccessToken, when the request presents one, must be matched by the
	// proof's ath claim (RFC 9449 §4.3 (12)).
	AccessToken string
	// JKT, when the token is DPoP-bound (cnf.jkt), must equal the proof
	// key's thumbprint (RFC 9449 §4.3 (12), §6).
	JKT string
}

// Verifier checks DPoP proofs (RFC 9449 §4.3). It is safe for concurrent
// use.
type Verifier struct {
	algs           map[string]bool
	algList        []string
	clock          func() time.Time
	maxAge, leeway time.Duration
	maxSize        int
	nonces         NonceSource
	replay         ReplayStore
	trusted        []netip.Prefix
	baseURL        string
	requestURL     func(*http.Request) string
	headers        headerCache
}

// ErrConfig is returned by NewVerifier for an unusable configuration.
var ErrConfig = errors.New("dpop: bad verifier configuration")

// NewVerifier returns a Verifier. Options: WithAllowedAlgorithms,
// WithClock, WithIATWindow, WithMaxProofSize, WithNonces, WithReplayStore,
// WithTrustedProxies, WithBaseURL, WithRequestURL.
func NewVerifier(opts ...VerifierOption) (*Verifier, error) {
	o := options{
		clock:        time.Now,
		allowedAlgs:  DefaultAlgorithms,
		maxAge:       defaultMaxAge,
		leeway:       defaultLeeway,
		maxProofSize: defaultMaxProofSize,
	}
	for _, opt := range opts {
		opt.applyVerifier(&o)
	}
	if len(o.allowedAlgs) == 0 {
		return nil, fmt.Errorf("%w: empty algorithm allow-list", ErrConfig)
	}
	v := &Verifier{
		algs:       make(map[string]bool),
		clock:      o.clock,
		maxAge:     o.maxAge,
		leeway:     o.leeway,
		maxSize:    o.maxProofSize,
		nonces:     o.nonces,
		replay:     o.replay,
		trusted:    o.trustedProxies,
		baseURL:    o.baseURL,
		requestURL: o.requestURL,
	}
	for _, a := range o.allowedAlgs {
		switch a {
		case ES256, ES384, ES512, EdDSA, Ed25519, PS256, PS384, PS512, RS256, RS384, RS512:
		default:
			// RFC 9449 §4.3 (5): never none, never a symmetric algorithm.
			return nil, fmt.Errorf("%w: algorithm %q is not an asymmetric signature algorithm", ErrConfig, a)
		}
		if !v.algs[a] {
			v.algs[a] = true
			v.algList = append(v.algList, a)
		}
	}
	if v.maxAge <= 0 || v.leeway < 0 || v.maxSize <= 0 {
		return nil, fmt.Errorf("%w: iat window and size limit must be positive", ErrConfig)
	}
	if v.replay == nil {
		v.replay = NewMemoryReplayStore(0, o.clock)
	}
	return v, nil
}

// Algorithms returns the allow-list, for the algs parameter of a
// WWW-Authenticate challenge and dpop_signing_alg_values_supported.
func (v *Verifier) Algorithms() []string {
	return append([]string(nil), v.algList...)
}

// Nonce returns a fresh server nonce to send in DPoP-Nonce, or "" when the
// verifier does not use nonces.
func (v *Verifier) Nonce() string {
	if v.nonces == nil {
		return ""
	}
	n, err := v.nonces.Nonce(v.clock())
	if err != nil {
		return ""
	}
	return n
}

// VerifyHTTP checks the DPoP header of an incoming request. accessToken is
// the token the request presents ("" for a token request) and jkt the
// token's cnf.jkt ("" when not bound). The URL compared with htu is the
// externally visible one (see RequestURL, WithBaseURL and
// WithTrustedProxies). Without WithBaseURL the host comes from the request's
// Host header, which the client chooses: a server reachable under several
// names, or sharing keys with another, should fix its URL with WithBaseURL so
// that a proof made for another server is never accepted here.
func (v *Verifier) VerifyHTTP(ctx context.Context, r *http.Request, accessToken, jkt string) (*Proof, error) {
	var u string
	if v.requestURL != nil {
		u = v.requestURL(r)
	} else {
		u = RequestURL(r, v.baseURL, v.trusted)
	}
	return v.Verify(ctx, Request{
		Proofs:      r.Header.Values("DPoP"),
		Method:      r.Method,
		URL:         u,
		AccessToken: accessToken,
		JKT:         jkt,
	})
}

// header is a proof's protected header (RFC 9449 §4.2).
type header struct {
	Typ  *string         `json:"typ"`
	Alg  *string         `json:"alg"`
	JWK  *rawJWK         `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// payload is a proof's claims as received, pointers to tell absent from
// empty (RFC 9449 §4.2).
type payload struct {
	JTI   *string         `json:"jti"`
	HTM   *string         `json:"htm"`
	HTU   *string         `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   *string         `json:"ath"`
	Nonce *string         `json:"nonce"`
}

// Verify checks a proof against a request: every check of RFC 9449 §4.3,
// then the nonce (§8) and replay (§11.1) rules. Failures are *Error values.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Proof, error) {
	raw, err := v.oneProof(req)
	if err != nil {
		return nil, err
	}
	pp, perr := v.parse(raw)
	if perr != nil {
		return nil, perr
	}
	var pl payload
	iat, err := readClaims(pp.body, &pl)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(&pl, pp.jkt, req); err != nil {
		return nil, err
	}
	if err := v.checkFresh(&pl, iat); err != nil {
		return nil, err
	}
	if err := v.remember(ctx, pp.jkt, *pl.JTI, iat); err != nil {
		return nil, err
	}
	p := &Proof{
		JTI:        *pl.JTI,
		Method:     *pl.HTM,
		URL:        *pl.HTU,
		IssuedAt:   iat,
		Algorithm:  pp.alg,
		Key:        pp.key,
		Thumbprint: pp.jkt,
	}
	if pl.Nonce != nil {
		p.Nonce = *pl.Nonce
	}
	if pl.ATH != nil {
		p.ATH = *pl.ATH
	}
	return p, nil
}

// oneProof is the request's one DPoP header (§4.3 (1)), within the size
// limit.
func (v *Verifier) oneProof(req Request) (string, error) {
	switch len(req.Proofs) {
	case 0:
		return "", newError(ReasonMissing, "the request has no DPoP header")
	case 1:
	default:
		return "", newError(ReasonMultiple, "the request has %d DPoP headers; send exactly one", len(req.Proofs))
	}
	raw := req.Proofs[0]
	if len(raw) > v.maxSize {
		return "", newError(ReasonTooLarge, "the proof is %d bytes; the limit is %d", len(raw), v.maxSize)
	}
	return raw, nil
}

// readClaims decodes the claims into pl and returns iat: §4.3 (3), the
// required claims, of the right types.
func readClaims(body []byte, pl *payload) (time.Time, error) {
	if err := strictUnmarshal(body, pl); err != nil {
		return time.Time{}, newError(ReasonBadClaim, "the claims are not a JSON object of the right types: %v", err)
	}
	switch {
	case pl.JTI == nil:
		return time.Time{}, newError(ReasonMissingClaim, "jti is missing")
	case pl.HTM == nil:
		return time.Time{}, newError(ReasonMissingClaim, "htm is missing")
	case pl.HTU == nil:
		return time.Time{}, newError(ReasonMissingClaim, "htu is missing")
	case pl.IAT == nil:
		return time.Time{}, newError(ReasonMissingClaim, "iat is missing")
	}
	if *pl.JTI == "" || len(*pl.JTI) > maxJTILength {
		return time.Time{}, newError(ReasonBadClaim, "jti must have 1 to %d characters", maxJTILength)
	}
	iat, ok := numericDate(pl.IAT)
	if !ok {
		return time.Time{}, newError(ReasonBadClaim, "iat must be a NumericDate (a JSON number of seconds)")
	}
	return iat, nil
}

// checkRequest binds the proof to the request: htm (§4.3 (8)), htu (§4.3
// (9)), ath and the key the access token is bound to (§4.3 (12)).
func checkRequest(pl *payload, jkt string, req Request) error {
	if *pl.HTM != req.Method {
		return newError(ReasonHTMMismatch, "htm is %q but the request method is %q", *pl.HTM, req.Method)
	}
	want, err := NormalizeURL(req.URL)
	if err != nil {
		return wrapError(ReasonHTUMismatch, err, "the request URL cannot be normalized")
	}
	got, err := NormalizeURL(*pl.HTU)
	if err != nil || got != want {
		return newError(ReasonHTUMismatch, "htu %q does not match the request URL %q", clip(*pl.HTU), want)
	}
	if req.AccessToken != "" {
		if pl.ATH == nil {
			return newError(ReasonATHMissing, "the request presents an access token, so the proof needs ath")
		}
		sum := sha256.Sum256([]byte(req.AccessToken))
		var ath [43]byte // ATH(req.AccessToken), without its allocations
		base64.RawURLEncoding.Encode(ath[:], sum[:])
		if subtle.ConstantTimeCompare([]byte(*pl.ATH), ath[:]) != 1 {
			return newError(ReasonATHMismatch, "ath is not the hash of the presented access token")
		}
	}
	if req.JKT != "" && !MatchThumbprint(jkt, req.JKT) {
		return newError(ReasonKeyMismatch, "the proof's key is not the key the access token is bound to")
	}
	return nil
}

// checkFresh checks the server nonce (§4.3 (10), §8) and that iat is
// within the window (§4.3 (11)).
func (v *Verifier) checkFresh(pl *payload, iat time.Time) error {
	now := v.clock()
	if v.nonces != nil {
		if pl.Nonce == nil || *pl.Nonce == "" {
			return v.nonceError(ReasonNonceMissing, "the server requires a nonce; retry with the one in the DPoP-Nonce header", now)
		}
		if len(*pl.Nonce) > maxNonceLength || !v.nonces.Check(*pl.Nonce, now) {
			return v.nonceError(ReasonNonceInvalid, "the nonce is stale or was not issued by this server; retry with the one in the DPoP-Nonce header", now)
		}
	}
	if iat.Before(now.Add(-v.maxAge)) {
		return newError(ReasonIATTooOld, "iat is %s old; proofs are accepted for %s (check the client's clock)", now.Sub(iat).Truncate(time.Second), v.maxAge)
	}
	if iat.After(now.Add(v.leeway)) {
		return newError(ReasonIATInFuture, "iat is %s in the future; the allowed clock skew is %s (check the client's clock)", iat.Sub(now).Truncate(time.Second), v.leeway)
	}
	return nil
}

// remember records the proof as used (§11.1), keyed by (jkt, jti). It
// stays refused until its iat leaves the window, so it is remembered
// until then.
func (v *Verifier) remember(ctx context.Context, jkt, jti string, iat time.Time) error {
	exp := iat.Add(v.maxAge + time.Second)
	err := v.replay.Use(ctx, jkt, jti, exp)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSeen):
		return newError(ReasonReplayed, "this proof (its jti) was used before; make a new proof for every request")
	case errors.Is(err, ErrStoreFull):
		return wrapError(ReasonReplayStoreFull, err, "the server cannot record more proofs now; retry later")
	default:
		return wrapError(ReasonReplayStoreError, err, "the server cannot check proofs for replay now; retry later")
	}
}

func (v *Verifier) nonceError(r Reason, desc string, now time.Time) *Error {
	e := newError(r, "%s", desc)
	e.Nonce, _ = v.nonces.Nonce(now)
	return e
}

// parsed is a proof whose structure, header and signature were checked.
type parsed struct {
	alg  string
	key  crypto.PublicKey
	jkt  string
	body []byte
}

// parse performs RFC 9449 §4.3 checks (2) and (4) to (7): structure, typ,
// alg, a public jwk that fits alg, and the signature.
func (v *Verifier) parse(raw string) (*parsed, *Error) {
	// §4.3 (2): a well-formed compact JWS.
	h64, rest, ok1 := strings.Cut(raw, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") || h64 == "" || p64 == "" {
		return nil, newError(ReasonMalformed, "the proof is not a JWS in compact serialization (three base64url parts)")
	}
	ph := v.headers.get(h64)
	if ph == nil {
		var perr *Error
		if ph, perr = v.parseHeader(h64); perr != nil {
			return nil, perr
		}
		v.headers.put(h64, ph)
	}
	alg, key, jkt := ph.alg, ph.key, ph.jkt

	// §4.3 (6): the signature verifies with the header's key.
	if s64 == "" {
		return nil, newError(ReasonBadSignature, "the proof has no signature")
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil {
		return nil, newError(ReasonMalformed, "the proof's signature is not base64url without padding")
	}
	body, err := base64.RawURLEncoding.DecodeString(p64)
	if err != nil {
		return nil, newError(ReasonMalformed, "the proof's payload is not base64url without padding")
	}
	if !verifySignature(key, alg, []byte(raw[:len(h64)+1+len(p64)]), sig) {
		return nil, newError(ReasonBadSignature, "the signature does not verify with the header's jwk")
	}

	return &parsed{alg: alg, key: key, jkt: jkt, body: body}, nil
}

// parsedHeader is a protected header that passed checks (4), (5) and (7).
type parsedHeader struct {
	alg string
	key crypto.PublicKey
	jkt string
}

// parseHeader checks a proof's protected header: typ, alg, and a public jwk
// that fits alg (RFC 9449 §4.3 (4), (5), (7)).
func (v *Verifier) parseHeader(h64 string) (*parsedHeader, *Error) {
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	if err != nil {
		return nil, newError(ReasonMalformed, "the proof's header is not base64url without padding")
	}
	var hdr header
	if err := strictUnmarshal(hb, &hdr); err != nil {
		return nil, newError(ReasonBadHeader, "the proof's header is not a JSON object with string typ and alg: %v", err)
	}
	if hdr.Crit != nil {
		return nil, newError(ReasonBadHeader, "the proof's header has crit; no extensions are understood (RFC 7515 §4.1.11)")
	}
	// §4.3 (4)
	if hdr.Typ == nil || *hdr.Typ != "dpop+jwt" {
		return nil, newError(ReasonBadType, "typ must be \"dpop+jwt\"")
	}
	// §4.3 (5)
	if hdr.Alg == nil || !v.algs[*hdr.Alg] {
		return nil, newError(ReasonBadAlgorithm, "alg must be one of %s", strings.Join(v.Algorithms(), ", "))
	}
	alg := *hdr.Alg
	// §4.3 (7): the jwk must be a public key.
	if hdr.JWK == nil {
		return nil, newError(ReasonBadKey, "the header has no jwk object")
	}
	key, jkt, err := hdr.JWK.publicKey()
	if errors.Is(err, errPrivateJWK) {
		return nil, newError(ReasonPrivateKey, "the jwk must be a public key; it carries private or symmetric key material")
	}
	if err != nil {
		return nil, newError(ReasonBadKey, "%v", err)
	}
	if err := keyFitsAlgorithm(key, alg); err != nil {
		return nil, newError(ReasonBadKey, "%v", err)
	}

	return &parsedHeader{alg: alg, key: key, jkt: jkt}, nil
}

// numericDate reads a JSON number of seconds since the epoch (RFC 7519 §2),
// refusing strings, negative values and dates past the year 2200.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	if len(raw) == 0 || (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 7258118400 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// strictUnmarshal decodes a JSON object with member names matched exactly
// and duplicate names refused at every level (RFC 7515 §4, RFC 8259 §4):
// encoding/json would read {"TYP":"dpop+jwt"} as a typ, and the last of
// two htu members, where another reader may take the first.
func strictUnmarshal(b []byte, v any) error {
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return strictjson.Unmarshal(b, v)
}

// clip shortens a client-supplied value before it goes into a description.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}

// headerCache remembers protected headers that passed parseHeader, keyed by
// their exact base64url text. A client's header is the same in every proof it
// makes (typ, alg and its public key), so this skips decoding the JSON, the
// point and the thumbprint for all but its first proof. The outcome is a
// pure function of the text, so caching it cannot change any decision; the
// signature is still checked on every proof. Refused headers are not
// cached. The cache is bounded: when full it starts over.
type headerCache struct {
	mu sync.RWMutex
	m  map[string]*parsedHeader
}

const headerCacheSize = 4096

func (c *headerCache) get(h64 string) *parsedHeader {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[h64]
}

func (c *headerCache) put(h64 string, h *parsedHeader) {
	if len(h64) > 2048 {
		return // oversized headers are parsed each time rather than held
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= headerCacheSize {
		c.m = make(map[string]*parsedHeader, 64)
	}
	c.m[h64] = h
}
