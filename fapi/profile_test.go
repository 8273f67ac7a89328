package fapi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wardauth/ward/fapi"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"", "fapi2-security", "fapi2-message-signing"} {
		if p, err := fapi.Parse(s); err != nil || string(p) != s {
			t.Errorf("Parse(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"fapi2", "FAPI2-SECURITY", "fapi2-security ", "fapi1-advanced"} {
		if _, err := fapi.Parse(s); !errors.Is(err, fapi.ErrUnknown) {
			t.Errorf("Parse(%q) = %v, want ErrUnknown", s, err)
		}
	}
}

// TestEffective: a client tightens the server's profile, never loosens it.
func TestEffective(t *testing.T) {
	for _, tc := range []struct{ server, client, want fapi.Profile }{
		{fapi.None, fapi.None, fapi.None},
		{fapi.None, fapi.Security, fapi.Security},
		{fapi.Security, fapi.None, fapi.Security},
		{fapi.MessageSigning, fapi.Security, fapi.MessageSigning},
		{fapi.Security, fapi.MessageSigning, fapi.MessageSigning},
	} {
		if got := fapi.Effective(tc.server, tc.client); got != tc.want {
			t.Errorf("Effective(%q, %q) = %q, want %q", tc.server, tc.client, got, tc.want)
		}
	}
	if !fapi.MessageSigning.Secure() || fapi.None.Secure() {
		t.Error("Message Signing must imply the Security Profile")
	}
}

// TestMissing: the feature table drives the refusal; a feature that lands
// (Supported) drops out of it.
func TestMissing(t *testing.T) {
	defer clear(fapi.Supported)
	if len(fapi.Missing(fapi.Security)) != 0 || fapi.MissingError(fapi.None) != "" {
		t.Fatal("the Security Profile needs no feature this build lacks")
	}
	if n := len(fapi.Missing(fapi.MessageSigning)); n != len(fapi.Requirements) {
		t.Fatalf("Message Signing misses %d features, want %d", n, len(fapi.Requirements))
	}
	fapi.Supported[fapi.SignedRequestObjects] = true
	msg := fapi.MissingError(fapi.MessageSigning)
	if strings.Contains(msg, string(fapi.SignedRequestObjects)) || !strings.Contains(msg, string(fapi.JARM)) {
		t.Fatalf("MissingError after JAR landed: %q", msg)
	}
	fapi.Supported[fapi.JARM], fapi.Supported[fapi.JWTIntrospection] = true, true
	if msg := fapi.MissingError(fapi.MessageSigning); msg != "" {
		t.Fatalf("every feature landed, still refused: %q", msg)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "fapi2-security", "fapi2-message-signing", "fapi2", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := fapi.Parse(s)
		if err == nil && p != fapi.None && !p.Secure() {
			t.Fatalf("Parse(%q) accepted a profile that is not secure", s)
		}
		if err != nil && p != fapi.None {
			t.Fatalf("Parse(%q) failed but returned %q", s, p)
		}
	})
}

func ExampleMissingError() {
	fmt.Println(fapi.MissingError(fapi.Security) == "")
	fmt.Println(fapi.MissingError(fapi.MessageSigning))
	// Output:
	// true
	// fapi2-message-signing is not supported yet: this build lacks signed request objects (RFC 9101 JAR) (Message Signing §5.3.2), signed authorization responses (JARM) (Message Signing §5.4.2), signed introspection responses (RFC 9701) (Message Signing §5.5.2)
}
