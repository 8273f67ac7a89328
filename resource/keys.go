package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardauth/ward/internal/strictjson"
)

// Sentinel errors of key and metadata retrieval.
var (
	// ErrUnknownKID: the kid is not in the issuer's JWKS, even after a
	// refresh (or a refresh was not allowed yet).
	ErrUnknownKID = errors.New("resource: unknown kid")
	// ErrKeysUnavailable: discovery or the JWKS could not be fetched.
	ErrKeysUnavailable = errors.New("resource: issuer keys unavailable")
	// ErrDiscovery: the issuer's metadata is unusable.
	ErrDiscovery = errors.New("resource: bad authorization server metadata")
)

// KeySource returns the issuer's public verification key with a kid.
// Implementations must never return a private or symmetric key.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// StaticKeys is a KeySource over a fixed JWKS; private and symmetric keys
// in it are ignored.
type StaticKeys jose.JSONWebKeySet

var _ KeySource = StaticKeys{}
var _ KeySource = (*RemoteKeys)(nil)

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	for i := range s.Keys {
		k := &s.Keys[i]
		if k.KeyID == kid && usable(k) {
			return k, nil
		}
	}
	return nil, ErrUnknownKID
}

func usable(k *jose.JSONWebKey) bool {
	if !k.Valid() || !k.IsPublic() || k.Use == "enc" {
		return false
	}
	switch k.Key.(type) {
	case []byte: // a symmetric key can never verify an access token
		return false
	}
	return true
}

// ASMetadata is the part of RFC 8414 authorization server metadata a
// resource server uses.
type ASMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
}

// MetadataURL returns the RFC 8414 §3.1 metadata URL of issuer: the
// well-known segment goes between the host and the issuer's path.
func MetadataURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("%w: issuer %q is not an absolute URL", ErrDiscovery, issuer)
	}
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

const maxDocument = 1 << 20 // 1 MiB: metadata, JWKS, introspection responses

// Discovery is how an issuer's metadata is found.
type Discovery string

const (
	// DiscoveryRFC8414 reads /.well-known/oauth-authorization-server
	// inserted before the issuer's path (RFC 8414 §3.1). The default.
	DiscoveryRFC8414 Discovery = "rfc8414"
	// DiscoveryOIDC reads the issuer followed by
	// /.well-known/openid-configuration (OpenID Connect Discovery 1.0
	// §4), where Keycloak, Okta, Auth0 and Entra publish theirs.
	DiscoveryOIDC Discovery = "oidc"
)

// OIDCConfigurationURL returns the OpenID Connect Discovery §4.1 URL of
// issuer: its path followed by /.well-known/openid-configuration.
func OIDCConfigurationURL(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("%w: issuer %q is not an absolute URL", ErrDiscovery, issuer)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/.well-known/openid-configuration"
	u.RawPath = ""
	return u.String(), nil
}

// Discover fetches issuer's RFC 8414 metadata and checks that it names the
// same issuer (RFC 8414 §3.3) and a JWKS URI.
func Discover(ctx context.Context, client *http.Client, issuer string) (*ASMetadata, error) {
	return DiscoverWith(ctx, client, issuer, DiscoveryRFC8414)
}

// DiscoverWith fetches issuer's metadata the way d says and checks that
// it names the same issuer (RFC 8414 §3.3, OpenID Connect Discovery
// §4.3) and a JWKS URI.
func DiscoverWith(ctx context.Context, client *http.Client, issuer string, d Discovery) (*ASMetadata, error) {
	var u string
	var err error
	switch d {
	case DiscoveryRFC8414, "":
		u, err = MetadataURL(issuer)
	case DiscoveryOIDC:
		u, err = OIDCConfigurationURL(issuer)
	default:
		err = fmt.Errorf("%w: unknown discovery %q", ErrDiscovery, d)
	}
	if err != nil {
		return nil, err
	}
	var m ASMetadata
	if err := getJSON(ctx, client, u, &m); err != nil {
		return nil, err
	}
	if m.Issuer != issuer {
		return nil, fmt.Errorf("%w: metadata at %s names issuer %q, not %q", ErrDiscovery, u, m.Issuer, issuer)
	}
	if m.JWKSURI == "" {
		return nil, fmt.Errorf("%w: metadata at %s has no jwks_uri", ErrDiscovery, u)
	}
	return &m, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: status %d", ErrKeysUnavailable, u, resp.StatusCode)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && ct != "application/jwk-set+json" {
		return fmt.Errorf("%w: GET %s: content type %q", ErrKeysUnavailable, u, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrKeysUnavailable, u, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("%w: GET %s: document larger than %d bytes", ErrKeysUnavailable, u, maxDocument)
	}
	// Metadata and JWKS members are JOSE names: exact, never repeated.
	if err := strictjson.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrKeysUnavailable, u, err)
	}
	return nil
}

// RemoteKeys is a KeySource that finds the issuer's JWKS through RFC 8414
// discovery and caches it. An unknown kid triggers a refresh, at most once
// per MinRefresh, so a flood of bogus kids cannot hammer the issuer; the
// set is also refreshed when older than MaxAge. Keys are taken only from
// the discovered jwks_uri: never from a token's jku, x5u, x5c or jwk.
type RemoteKeys struct {
	issuer     string
	discovery  Discovery
	jwksURI    string // fixed, or "" to discover
	client     *http.Client
	clock      func() time.Time
	minRefresh time.Duration
	maxAge     time.Duration

	mu      sync.Mutex // serialises fetches
	set     map[string]*jose.JSONWebKey
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
	meta    *ASMetadata
	fetches int
	lastErr error
	rmu     sync.RWMutex // guards set for readers
}

// RemoteKeysOptions tunes RemoteKeys; zero values take the defaults.
type RemoteKeysOptions struct {
	// Client fetches metadata and keys; default a client with a 10 s
	// timeout.
	Client *http.Client
	// Clock; default time.Now.
	Clock func() time.Time
	// MinRefresh is the shortest interval between two fetches caused by
	// unknown kids. Default 30 s.
	MinRefresh time.Duration
	// MaxAge is how long a fetched set is used before it is fetched
	// again. Default 1 h.
	MaxAge time.Duration
	// Discovery finds the metadata: DiscoveryRFC8414 (default) or
	// DiscoveryOIDC.
	Discovery Discovery
	// JWKSURI, when set, is where the keys are fetched, without
	// discovery (Metadata still discovers, for an introspection
	// endpoint). It must be an https URL the operator trusts.
	JWKSURI string
}

// NewRemoteKeys returns a KeySource for issuer. Nothing is fetched until
// the first key is needed.
func NewRemoteKeys(issuer string, o RemoteKeysOptions) *RemoteKeys {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MinRefresh <= 0 {
		o.MinRefresh = 30 * time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = time.Hour
	}
	return &RemoteKeys{issuer: issuer, discovery: o.Discovery, jwksURI: o.JWKSURI, client: o.Client, clock: o.Clock, minRefresh: o.MinRefresh, maxAge: o.MaxAge}
}

// Key implements KeySource.
func (k *RemoteKeys) Key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	now := k.clock()
	k.rmu.RLock()
	key, fresh := k.set[kid], now.Sub(k.fetched) < k.maxAge && k.set != nil
	k.rmu.RUnlock()
	if key != nil && fresh {
		return key, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Another caller may have fetched while this one waited.
	k.rmu.RLock()
	key, fresh = k.set[kid], now.Sub(k.fetched) < k.maxAge && k.set != nil
	k.rmu.RUnlock()
	if key != nil && fresh {
		return key, nil
	}
	if !k.tried.IsZero() && now.Sub(k.tried) < k.minRefresh {
		// Rate limited: answer from what is held.
		if key != nil {
			return key, nil
		}
		if k.set == nil && k.lastErr != nil {
			return nil, k.lastErr
		}
		return nil, ErrUnknownKID
	}
	k.tried = now
	if err := k.fetch(ctx); err != nil {
		k.lastErr = err
		if key != nil { // keep using a stale key while the issuer is down
			return key, nil
		}
		return nil, err
	}
	k.lastErr = nil
	k.rmu.RLock()
	key = k.set[kid]
	k.rmu.RUnlock()
	if key == nil {
		return nil, ErrUnknownKID
	}
	return key, nil
}

// Metadata returns the issuer's metadata, discovering it if needed.
func (k *RemoteKeys) Metadata(ctx context.Context) (*ASMetadata, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.meta != nil {
		return k.meta, nil
	}
	m, err := DiscoverWith(ctx, k.client, k.issuer, k.discovery)
	if err != nil {
		return nil, err
	}
	k.meta = m
	return m, nil
}

// Fetches returns how many times the JWKS was fetched (for tests and
// metrics).
func (k *RemoteKeys) Fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

func (k *RemoteKeys) fetch(ctx context.Context) error {
	jwksURI := k.jwksURI
	if jwksURI == "" {
		if k.meta == nil {
			m, err := DiscoverWith(ctx, k.client, k.issuer, k.discovery)
			if err != nil {
				return err
			}
			k.meta = m
		}
		jwksURI = k.meta.JWKSURI
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	k.fetches++
	if err := getJSON(ctx, k.client, jwksURI, &raw); err != nil {
		return err
	}
	set := make(map[string]*jose.JSONWebKey, len(raw.Keys))
	for _, r := range raw.Keys {
		var jk jose.JSONWebKey
		// A key go-jose cannot parse (unknown kty, ...) is skipped, not
		// fatal: the issuer may publish keys for other uses.
		if err := jk.UnmarshalJSON(r); err != nil || jk.KeyID == "" || !usable(&jk) {
			continue
		}
		if _, dup := set[jk.KeyID]; dup {
			continue // ambiguous kid: keep the first
		}
		set[jk.KeyID] = &jk
	}
	k.rmu.Lock()
	k.set, k.fetched = set, k.clock()
	k.rmu.Unlock()
	return nil
}
