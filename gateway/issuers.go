package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/resource"
)

// issuerSource is the part of one trusted issuer that outlives a reload:
// its key cache and its introspector. The rest (algorithms, audience)
// is read from each configuration generation by registry.
type issuerSource struct {
	cfg   config.GatewayIssuer
	keys  resource.KeySource
	intro resource.Introspector
}

// setupIssuers builds the issuer registry's sources once: from
// gateway.issuers, or from the one-issuer shorthand (issuer, with
// Options.Keys and Options.Introspector).
func (g *Gateway) setupIssuers(cfg *config.Gateway, issuer string) error {
	ko := resource.RemoteKeysOptions{Client: g.opts.HTTPClient, Clock: g.opts.Clock}
	if len(cfg.Issuers) == 0 {
		keys := g.opts.Keys
		if keys == nil {
			keys = resource.NewRemoteKeys(issuer, ko)
		}
		g.issuers = []issuerSource{{cfg: config.GatewayIssuer{Issuer: issuer}, keys: keys, intro: g.opts.Introspector}}
		return nil
	}
	for i, is := range cfg.Issuers {
		o := ko
		o.Discovery, o.JWKSURI = resource.Discovery(is.Discovery), is.JWKSURI
		keys := resource.NewRemoteKeys(is.Issuer, o)
		src := issuerSource{cfg: is, keys: keys}
		if is.Introspection.Enabled() {
			ri, err := g.introspector(is.Introspection, keys)
			if err != nil {
				return fmt.Errorf("%w: gateway.issuers[%d].introspection: %w", ErrConfig, i, err)
			}
			if is.Introspection.SignedResponse {
				// RFC 9701: the issuer's keys and algorithms sign the
				// answer, for the gateway's client.
				ri.SignedResponse = &resource.IntrospectionJWTVerifier{Issuer: is.Issuer, ClientID: is.Introspection.ClientID,
					Keys: keys, Algorithms: is.TokenAlgorithms, Clock: g.opts.Clock}
			}
			src.intro = ri
		}
		g.issuers = append(g.issuers, src)
	}
	return nil
}

// introspector reads the client secret or private key of an issuer's
// introspection.
func (g *Gateway) introspector(in config.IssuerIntrospection, meta resource.MetadataSource) (*resource.RemoteIntrospector, error) {
	ri := &resource.RemoteIntrospector{Endpoint: in.Endpoint, Metadata: meta, ClientID: in.ClientID, KeyID: in.KeyID,
		AssertionAudience: in.AssertionAudience, Client: g.opts.HTTPClient, Clock: g.opts.Clock}
	if in.ClientSecretFile != "" {
		b, err := os.ReadFile(in.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("client_secret_file: %w", err)
		}
		if ri.ClientSecret = strings.TrimSpace(string(b)); ri.ClientSecret == "" {
			return nil, fmt.Errorf("client_secret_file %s is empty", in.ClientSecretFile)
		}
		return ri, nil
	}
	key, err := readPrivateKey(in.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	ri.PrivateKey = key
	return ri, nil
}

// readPrivateKey reads a PKCS#8 PEM private key: ECDSA, Ed25519 or RSA.
func readPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS#8 private key", path)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
}

// registry returns the issuers of a configuration generation: the
// sources built once, with the generation's algorithms.
func (g *Gateway) registry(cfg *config.Gateway) []resource.Issuer {
	out := make([]resource.Issuer, len(g.issuers))
	for i, src := range g.issuers {
		algs := src.cfg.TokenAlgorithms
		if len(algs) == 0 {
			algs = cfg.TokenAlgorithms
		}
		c := src.cfg.Claims
		out[i] = resource.Issuer{
			Name: src.cfg.IssuerName(), Issuer: src.cfg.Issuer, Keys: src.keys, Algorithms: algs,
			Audience: src.cfg.Audience, Profile: resource.Profile(src.cfg.Profile), Introspector: src.intro,
			Claims: resource.ClaimMapping{Subject: c.Subject, Client: c.Client, Scopes: c.Scopes},
		}
	}
	return out
}

// IssuerStatus returns the health of every trusted issuer's keys or
// introspection, for /readyz.
func (g *Gateway) IssuerStatus() []resource.IssuerStatus {
	st := g.state.Load()
	if st == nil {
		return nil
	}
	return st.rs.IssuerStatus()
}
