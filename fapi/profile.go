package fapi

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// Profile names a FAPI 2.0 profile; None is no profile.
type Profile string

// The profiles, as written in the configuration (authorization_server.profile,
// clients[].profile).
const (
	None Profile = ""
	// Security is the FAPI 2.0 Security Profile.
	Security Profile = "fapi2-security"
	// MessageSigning is FAPI 2.0 Message Signing, which implies Security.
	MessageSigning Profile = "fapi2-message-signing"
)

// Profiles are the valid non-empty values.
var Profiles = []Profile{Security, MessageSigning}

// ErrUnknown: a profile name that is not one of Profiles.
var ErrUnknown = fmt.Errorf("fapi: unknown profile (one of %s, %s)", Security, MessageSigning)

// Parse returns the profile named s ("" is None).
func Parse(s string) (Profile, error) {
	p := Profile(s)
	if p == None || slices.Contains(Profiles, p) {
		return p, nil
	}
	return None, fmt.Errorf("%w: %q", ErrUnknown, s)
}

// Secure reports whether the Security Profile applies: both profiles.
func (p Profile) Secure() bool { return p == Security || p == MessageSigning }

// Effective is a client's profile: its own when set, else the server's.
// A client may tighten the server's profile, never loosen it (config
// refuses a client profile weaker than the server's).
func Effective(server, client Profile) Profile {
	if client.rank() > server.rank() {
		return client
	}
	return server
}

func (p Profile) rank() int {
	switch p {
	case Security:
		return 1
	case MessageSigning:
		return 2
	}
	return 0
}

// Weaker reports whether p is a weaker profile than q.
func (p Profile) Weaker(q Profile) bool { return p.rank() < q.rank() }

// Values the Security Profile locks.
var (
	// AuthMethods: §5.3.2.1, clients authenticate with mTLS (RFC 8705 §2)
	// or private_key_jwt (OIDC Core §9) only.
	AuthMethods = []oauth.AuthMethod{oauth.AuthPrivateKeyJWT, oauth.AuthTLSClient, oauth.AuthSelfSignedTLSClient}
	// SenderConstraints: §5.3.2.1, only sender-constrained access tokens,
	// by DPoP (RFC 9449) or mTLS (RFC 8705).
	SenderConstraints = []string{store.ConstraintDPoP, store.ConstraintDPoPOrMTLS, store.ConstraintMTLS}
	// SigningAlgs: §5.4.1, JWTs are signed and verified with PS256, ES256
	// or EdDSA (Ed25519) only: never none, never RSASSA-PKCS1-v1_5 (RS256).
	SigningAlgs = []string{"PS256", "ES256", "EdDSA"}
)

// Durations the Security Profile locks.
const (
	// IatLeeway: §5.3.2.1, JWTs (DPoP proofs among them) with an iat up
	// to 10 seconds in the future are accepted.
	IatLeeway = 10 * time.Second
	// MaxCodeTTL: §5.3.2.1, authorization codes live at most 60 seconds.
	MaxCodeTTL = 60 * time.Second
	// MaxPARTTL: §5.3.2.2, request_uri expires_in is less than 600 seconds.
	MaxPARTTL = 600 * time.Second
)

// Feature is a capability a profile needs that some builds lack.
type Feature string

// The features of FAPI 2.0 Message Signing.
const (
	// SignedRequestObjects: JAR (RFC 9101) at the PAR endpoint, required
	// per client (require_signed_request_object).
	SignedRequestObjects Feature = "signed request objects (RFC 9101 JAR)"
	// JARM: signed authorization responses (response_mode jwt/query.jwt).
	JARM Feature = "signed authorization responses (JARM)"
	// JWTIntrospection: signed introspection responses (RFC 9701).
	JWTIntrospection Feature = "signed introspection responses (RFC 9701)"
)

// Requirement is one row of a profile's feature table.
type Requirement struct {
	Profile Profile
	Clause  string // of the profile's document
	Feature Feature
}

// Requirements is the feature table: what each profile needs beyond what
// every build enforces. A feature lands by adding it to Supported.
var Requirements = []Requirement{
	{MessageSigning, "Message Signing §5.3.2", SignedRequestObjects},
	{MessageSigning, "Message Signing §5.4.2", JARM},
	{MessageSigning, "Message Signing §5.5.2", JWTIntrospection},
}

// Supported are the features of this build. JAR, JARM and RFC 9701 are
// built on other branches; each adds itself here when it lands (and its
// enforcement under the profile, keyed on the same Feature).
var Supported = map[Feature]bool{}

// Missing returns the requirements of p whose feature this build lacks.
func Missing(p Profile) []Requirement {
	var out []Requirement
	for _, r := range Requirements {
		if r.Profile.rank() <= p.rank() && r.Profile != None && !Supported[r.Feature] {
			out = append(out, r)
		}
	}
	return out
}

// MissingError describes Missing(p) for a refusal at start, or "".
func MissingError(p Profile) string {
	m := Missing(p)
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, len(m))
	for i, r := range m {
		parts[i] = fmt.Sprintf("%s (%s)", r.Feature, r.Clause)
	}
	return fmt.Sprintf("%s is not supported yet: this build lacks %s", p, strings.Join(parts, ", "))
}
