package policy

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SPIFFE returns the principal of a workload: its SPIFFE ID
// ("spiffe://trust-domain/path"), read from a verified client
// certificate's URI SAN.
func SPIFFE(id spiffeid.ID) Principal { return Principal(id.String()) }

// spiffePattern compiles a spiffe:// principal: an exact SPIFFE ID, or a
// prefix "spiffe://td/path/*" matching every ID of that trust domain whose
// path is below /path ("spiffe://td/*": every ID of the trust domain).
// Both are checked with go-spiffe's spiffeid parsing, so a principal that
// can never match a real SPIFFE ID (upper case, "..", a query, a port) is
// refused when the policy is loaded.
func spiffePattern(s string) (exact Principal, prefix string, err error) {
	if base, ok := strings.CutSuffix(s, "/*"); ok {
		if strings.HasSuffix(base, "/") {
			return "", "", fmt.Errorf("principal %q: write spiffe://<trust domain>/<path>/*", s)
		}
		if _, perr := spiffeid.TrustDomainFromString(base); perr == nil && !strings.Contains(strings.TrimPrefix(base, "spiffe://"), "/") {
			return "", base + "/", nil
		}
		id, perr := spiffeid.FromString(base)
		if perr != nil {
			return "", "", fmt.Errorf("principal %q is not a SPIFFE ID prefix: %v", s, perr)
		}
		return "", id.String() + "/", nil
	}
	id, perr := spiffeid.FromString(s)
	if perr != nil {
		return "", "", fmt.Errorf("principal %q is not a SPIFFE ID: %v", s, perr)
	}
	if id.Path() == "" {
		return "", "", fmt.Errorf("principal %q names a trust domain, not a workload: write %s/* for every workload in it", s, s)
	}
	return Principal(id.String()), "", nil
}

// IsSPIFFE reports whether a principal is a SPIFFE ID.
func (p Principal) IsSPIFFE() bool { return strings.HasPrefix(string(p), "spiffe://") }
