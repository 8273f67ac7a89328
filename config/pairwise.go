package config

import (
	"net/url"
	"strings"

	"github.com/wardauth/ward/store"
)

// OIDC holds the OpenID Connect settings of the authorization server.
type OIDC struct {
	// PairwiseSaltFile holds the secret salt of pairwise subject
	// identifiers (OIDC Core §8.1): base64 of at least 32 random bytes,
	// the same on every instance and kept for good: changing it changes
	// every pairwise sub. Required when a client has subject_type
	// pairwise, unless WARD_OIDC_PAIRWISE_SALT is set. In dev mode the
	// default is <data_dir>/pairwise-salt, created at start.
	PairwiseSaltFile string `yaml:"pairwise_salt_file"`
	// PairwiseSalt is from WARD_OIDC_PAIRWISE_SALT; it wins over
	// PairwiseSaltFile.
	PairwiseSalt string `yaml:"-"`
}

// HasPairwiseSalt reports whether a pairwise salt is configured (its
// value is read and checked by the authorization server at start).
func (o OIDC) HasPairwiseSalt() bool { return o.PairwiseSalt != "" || o.PairwiseSaltFile != "" }

// pairwise checks that a file declaring a pairwise client configures the
// salt its subjects are derived with: without it Ward could not compute
// a stable, secret-keyed sub (OIDC Core §8.1).
func (v *validator) pairwise() {
	if v.c.OIDC.HasPairwiseSalt() {
		return
	}
	for _, cl := range v.c.Clients {
		if cl.SubjectType == store.SubjectPairwise {
			v.add("oidc.pairwise_salt_file", ErrMissing,
				"required: client %q has subject_type pairwise (or set %s; base64 of at least 32 random bytes, shared by every instance)",
				cl.ID, EnvPairwiseSalt)
			return
		}
	}
}

// SectorHost returns the host (lower case, without port) of an absolute
// URL, or "" when it has none: the sector of a redirect URI or of a
// sector_identifier_uri (OIDC Core §8.1 "the host component").
func SectorHost(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}
