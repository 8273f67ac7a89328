package client

import (
	"reflect"
	"testing"
)

// TestOptionTypesPerConstructor: an option that concerns a Client only
// does not implement TransportOption, so NewTransport(WithBrowser(f))
// does not compile instead of ignoring the option. Go tests cannot
// assert that code fails to compile; this checks the types that make it
// so.
func TestOptionTypesPerConstructor(t *testing.T) {
	transportT := reflect.TypeFor[TransportOption]()
	clientT := reflect.TypeFor[Option]()
	clientOnly := map[string]Option{
		"WithClientSecret":  WithClientSecret("", AuthStyleBasic),
		"WithScopes":        WithScopes(),
		"WithResource":      WithResource(),
		"WithRefreshMargin": WithRefreshMargin(0),
		"WithTokenSaver":    WithTokenSaver(nil),
		"WithBrowser":       WithBrowser(nil),
		"WithPAR":           WithPAR(true),
	}
	for name, opt := range clientOnly {
		if reflect.TypeOf(opt).Implements(transportT) {
			t.Errorf("%s is a TransportOption too", name)
		}
	}
	common := map[string]CommonOption{
		"WithHTTPClient":   WithHTTPClient(nil),
		"WithKey":          WithKey(nil),
		"WithClock":        WithClock(nil),
		"WithMaxClockSkew": WithMaxClockSkew(0),
	}
	for name, opt := range common {
		if !reflect.TypeOf(opt).Implements(clientT) || !reflect.TypeOf(opt).Implements(transportT) {
			t.Errorf("%s is not both an Option and a TransportOption", name)
		}
	}
}
