package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// StaticKeySet is a KeySet over a fixed JWKS; private, symmetric and
// encryption keys in it are never returned.
type StaticKeySet jose.JSONWebKeySet

var (
	_ KeySet = StaticKeySet{}
	_ KeySet = (*RemoteKeySet)(nil)
)

// VerificationKeys implements KeySet.
func (s StaticKeySet) VerificationKeys(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	var out []jose.JSONWebKey
	for _, k := range s.Keys {
		if (kid == "" || k.KeyID == kid) && verifying(&k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func verifying(k *jose.JSONWebKey) bool {
	if !k.Valid() || !k.IsPublic() || k.Use == "enc" {
		return false
	}
	_, symmetric := k.Key.([]byte)
	return !symmetric
}

// minJWKSRefresh: an unknown kid fetches the JWKS again at most this
// often, so a flood of forged kids cannot hammer the issuer.
const minJWKSRefresh = 30 * time.Second

// RemoteKeySet is a KeySet that fetches an issuer's JWKS (jwks_uri) and
// caches it; an unknown kid fetches it again (key rotation), at most once
// per 30 s.
type RemoteKeySet struct {
	uri string
	hc  *http.Client

	mu      sync.Mutex
	set     StaticKeySet
	fetched time.Time
}

// NewRemoteKeySet returns the KeySet published at jwksURI, fetched with
// hc (nil: http.DefaultClient).
func NewRemoteKeySet(jwksURI string, hc *http.Client) *RemoteKeySet {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &RemoteKeySet{uri: jwksURI, hc: hc}
}

// VerificationKeys implements KeySet.
func (r *RemoteKeySet) VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fetched.IsZero() {
		if keys, _ := r.set.VerificationKeys(ctx, kid); len(keys) > 0 || time.Since(r.fetched) < minJWKSRefresh {
			return keys, nil
		}
	}
	if err := r.fetch(ctx); err != nil {
		return nil, err
	}
	return r.set.VerificationKeys(ctx, kid)
}

func (r *RemoteKeySet) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.uri, nil)
	if err != nil {
		return fmt.Errorf("client: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrBadResponse, r.uri, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("client: jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	// JWK members are JOSE names: exact, never repeated (RFC 7517 §4).
	if err := strictjson.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrBadResponse, r.uri, err)
	}
	r.set, r.fetched = StaticKeySet(set), time.Now()
	return nil
}
