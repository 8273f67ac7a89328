package dpop

import (
	"io"
	"net/http"
	"net/netip"
	"time"
)

// SignerOption configures NewSigner. Options are sealed: only this package
// can make them.
type SignerOption interface{ applySigner(*options) }

// VerifierOption configures NewVerifier. Options are sealed: only this
// package can make them.
type VerifierOption interface{ applyVerifier(*options) }

// CommonOption configures both NewSigner and NewVerifier (WithClock). An
// option for one side only is a SignerOption or a VerifierOption, so
// passing it to the other constructor does not compile.
type CommonOption interface {
	SignerOption
	VerifierOption
}

type signerOption func(*options)

func (f signerOption) applySigner(o *options) { f(o) }

type verifierOption func(*options)

func (f verifierOption) applyVerifier(o *options) { f(o) }

type commonOption func(*options)

func (f commonOption) applySigner(o *options)   { f(o) }
func (f commonOption) applyVerifier(o *options) { f(o) }

type options struct {
	clock  func() time.Time
	random io.Reader

	// signer
	signingAlg string

	// verifier
	allowedAlgs    []string
	maxAge, leeway time.Duration
	maxProofSize   int
	nonces         NonceSource
	replay         ReplayStore
	trustedProxies []netip.Prefix
	baseURL        string
	requestURL     func(*http.Request) string
}

// WithClock sets the source of the current time (Signer and Verifier), so
// tests can replay proofs at their original timestamps.
func WithClock(now func() time.Time) CommonOption {
	return commonOption(func(o *options) { o.clock = now })
}

// WithRandom sets the source of randomness for jti values. The default is
// crypto/rand.
func WithRandom(r io.Reader) SignerOption {
	return signerOption(func(o *options) { o.random = r })
}

// WithSigningAlgorithm chooses the signature algorithm. The
// default follows the key: ES256 for P-256, EdDSA for Ed25519, PS256 for
// RSA.
func WithSigningAlgorithm(alg string) SignerOption {
	return signerOption(func(o *options) { o.signingAlg = alg })
}

// WithAllowedAlgorithms sets the algorithm allow-list (Verifier only;
// RFC 9449 §4.3 (5)). NewVerifier refuses none and HMAC algorithms. The
// default is DefaultAlgorithms.
func WithAllowedAlgorithms(algs ...string) VerifierOption {
	return verifierOption(func(o *options) { o.allowedAlgs = algs })
}

// WithIATWindow sets how old a proof's iat may be (maxAge) and how far in the
// future it may be, to absorb client clock skew (leeway) (Verifier only;
// RFC 9449 §4.3 (11), §11.1). Defaults: 60 s and 10 s.
func WithIATWindow(maxAge, leeway time.Duration) VerifierOption {
	return verifierOption(func(o *options) { o.maxAge, o.leeway = maxAge, leeway })
}

// WithMaxProofSize sets the longest proof accepted, in bytes, checked
// before any parsing (Verifier only). Default 8 KiB, room for an RSA-4096
// key.
func WithMaxProofSize(n int) VerifierOption {
	return verifierOption(func(o *options) { o.maxProofSize = n })
}

// WithNonces makes the Verifier require a server nonce from src
// (RFC 9449 §8).
func WithNonces(src NonceSource) VerifierOption {
	return verifierOption(func(o *options) { o.nonces = src })
}

// WithReplayStore sets where (jkt, jti) pairs are remembered (Verifier
// only). The default is a new MemoryReplayStore with DefaultReplayCapacity;
// servers with several instances need a shared store.
func WithReplayStore(s ReplayStore) VerifierOption {
	return verifierOption(func(o *options) { o.replay = s })
}

// WithTrustedProxies lets VerifyHTTP take the externally visible scheme and
// host from X-Forwarded-Proto / X-Forwarded-Host (or Forwarded) when, and
// only when, the request's peer address is in one of the prefixes
// (Verifier only; RFC 9449 §4.3 (9)).
func WithTrustedProxies(prefixes ...netip.Prefix) VerifierOption {
	return verifierOption(func(o *options) { o.trustedProxies = prefixes })
}

// WithBaseURL fixes the externally visible scheme and authority (for
// example "https://api.example.com") for VerifyHTTP, whatever the request's
// Host header says. It takes precedence over WithTrustedProxies.
func WithBaseURL(base string) VerifierOption {
	return verifierOption(func(o *options) { o.baseURL = base })
}

// WithRequestURL sets how VerifyHTTP finds the URL a proof's htu must
// name (Verifier only; RFC 9449 §4.3 (9)), in place of RequestURL with
// WithBaseURL and WithTrustedProxies: for a server whose front doors
// rebuild the client's request (forward authentication), where the URL
// the client used is known only to the front door. The function returns
// the URL without query; it decides alone what to believe.
func WithRequestURL(f func(r *http.Request) string) VerifierOption {
	return verifierOption(func(o *options) { o.requestURL = f })
}
