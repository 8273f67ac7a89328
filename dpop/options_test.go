package dpop

import (
	"reflect"
	"testing"
	"time"
)

// TestOptionTypesPerConstructor: an option for one constructor only does
// not implement the other's option type, so
// NewSigner(k, WithReplayStore(s)) does not compile instead of ignoring
// the option. Go tests cannot assert that code fails to compile; this
// checks the types that make it so.
func TestOptionTypesPerConstructor(t *testing.T) {
	signerT := reflect.TypeFor[SignerOption]()
	verifierT := reflect.TypeFor[VerifierOption]()
	signerOnly := map[string]any{
		"WithRandom":           WithRandom(nil),
		"WithSigningAlgorithm": WithSigningAlgorithm(ES256),
	}
	verifierOnly := map[string]any{
		"WithAllowedAlgorithms": WithAllowedAlgorithms(ES256),
		"WithIATWindow":         WithIATWindow(time.Minute, time.Second),
		"WithMaxProofSize":      WithMaxProofSize(1),
		"WithNonces":            WithNonces(nil),
		"WithReplayStore":       WithReplayStore(nil),
		"WithTrustedProxies":    WithTrustedProxies(),
		"WithBaseURL":           WithBaseURL(""),
		"WithRequestURL":        WithRequestURL(nil),
	}
	for name, opt := range signerOnly {
		if reflect.TypeOf(opt).Implements(verifierT) {
			t.Errorf("%s is a VerifierOption too", name)
		}
	}
	for name, opt := range verifierOnly {
		if reflect.TypeOf(opt).Implements(signerT) {
			t.Errorf("%s is a SignerOption too", name)
		}
	}
	common := reflect.TypeOf(WithClock(nil))
	if !common.Implements(signerT) || !common.Implements(verifierT) {
		t.Error("WithClock is not both a SignerOption and a VerifierOption")
	}
}
