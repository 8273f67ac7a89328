package resource

import (
	"testing"

	"github.com/wardauth/ward/dpop"
)

// Only the two DPoP leak proofs are a Leak; a certificate renewed while a
// token bound to the old one is cached (cert_mismatch), a replayed proof,
// a skewed iat and a missing nonce are not.
func TestLeakedOnlyForDPoPProofs(t *testing.T) {
	id := &verified{Identity: Identity{Issuer: "https://as.example", ClientID: "app", Subject: "alice", JKT: "k"}, grantID: "fam-1"}
	for reason, want := range map[Reason]bool{
		ReasonDPoPAsBearer:              true,
		string(dpop.ReasonKeyMismatch):  true,
		ReasonCertMismatch:              false,
		ReasonCertMissing:               false,
		string(dpop.ReasonReplayed):     false,
		string(dpop.ReasonIATTooOld):    false,
		string(dpop.ReasonNonceMissing): false,
		string(dpop.ReasonBadSignature): false,
		string(dpop.ReasonATHMismatch):  false,
	} {
		leak, ok := Leaked(markLeak(invalidToken(reason, "", "k", nil), id))
		if ok != want || (ok && (leak.GrantID != "fam-1" || leak.Reason != reason || leak.ClientID != "app")) {
			t.Errorf("%s: Leaked = %+v, %v; want %v", reason, leak, ok, want)
		}
	}
}
