package dpop

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/jws"
)

// jtiBytes is the entropy of a proof's jti: 128 bits, above the 96 that
// RFC 9449 §4.2 asks for.
const jtiBytes = 16

// Signer makes DPoP proofs (RFC 9449 §4.2) with one key. It is safe for
// concurrent use. The key may be any crypto.Signer, so a key held in a KMS
// or a hardware token can sign.
type Signer struct {
	key        crypto.Signer
	header     string // base64url of the constant protected header
	alg        string
	jwk        jose.JSONWebKey
	thumbprint string
	clock      func() time.Time
	random     io.Reader
}

// NewSigner returns a Signer for key. Options: WithSigningAlgorithm,
// WithClock, WithRandom.
func NewSigner(key crypto.Signer, opts ...SignerOption) (*Signer, error) {
	o := options{clock: time.Now, random: rand.Reader}
	for _, opt := range opts {
		opt.applySigner(&o)
	}
	pub := key.Public()
	alg := o.signingAlg
	if alg == "" {
		var err error
		if alg, err = algorithmFor(pub); err != nil {
			return nil, err
		}
	}
	if err := keyFitsAlgorithm(pub, alg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedAlgorithm, err)
	}
	tp, err := Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: pub}
	jwkJSON, err := jwk.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("dpop: new signer: %w", err)
	}
	// The protected header is the same for every proof (RFC 9449 §4.2), so
	// it is encoded once.
	hdr, err := jws.EncodeHeader(struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}{"dpop+jwt", alg, jwkJSON})
	if err != nil {
		return nil, fmt.Errorf("dpop: new signer: %w", err)
	}
	return &Signer{key: key, header: hdr, alg: alg, jwk: jwk, thumbprint: tp, clock: o.clock, random: o.random}, nil
}

// Algorithm returns the proof's alg.
func (s *Signer) Algorithm() string { return s.alg }

// Thumbprint returns the RFC 7638 thumbprint of the signer's public key: the
// jkt a server binds tokens to.
func (s *Signer) Thumbprint() string { return s.thumbprint }

// PublicJWK returns the public key as a JWK.
func (s *Signer) PublicJWK() jose.JSONWebKey { return s.jwk }

// ProofOption adds an optional claim to a proof.
type ProofOption interface{ applyProof(*claims) }

type proofOptionFunc func(*claims)

func (f proofOptionFunc) applyProof(c *claims) { f(c) }

// WithAccessToken adds the ath claim for a request that presents this
// access token (RFC 9449 §4.2).
func WithAccessToken(token string) ProofOption {
	return proofOptionFunc(func(c *claims) {
		if token != "" {
			c.ATH = ATH(token)
		}
	})
}

// WithNonce adds a nonce the server provided in DPoP-Nonce (RFC 9449 §8).
func WithNonce(nonce string) ProofOption {
	return proofOptionFunc(func(c *claims) { c.Nonce = nonce })
}

// claims are a proof's payload (RFC 9449 §4.2).
type claims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof makes a proof for a request with this method and URL. The htu claim
// is the URL without query and fragment (RFC 9449 §4.2).
func (s *Signer) Proof(method, rawURL string, opts ...ProofOption) (string, error) {
	if method == "" {
		return "", fmt.Errorf("dpop: proof: empty method")
	}
	htu, err := proofHTU(rawURL)
	if err != nil {
		return "", err
	}
	var id [jtiBytes]byte
	if _, err := io.ReadFull(s.random, id[:]); err != nil {
		return "", fmt.Errorf("dpop: proof: jti: %w", err)
	}
	c := claims{
		JTI: base64.RawURLEncoding.EncodeToString(id[:]),
		HTM: method,
		HTU: htu,
		IAT: s.clock().Unix(),
	}
	for _, opt := range opts {
		opt.applyProof(&c)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: %w", err)
	}
	proof, err := jws.Sign(s.key, s.alg, s.header, payload)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: sign: %w", err)
	}
	return proof, nil
}

// proofHTU strips query and fragment from an absolute http(s) URL.
func proofHTU(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("dpop: proof: bad URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("dpop: proof: URL %q is not an absolute http(s) URL", rawURL)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String(), nil
}
