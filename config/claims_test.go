package config_test

import (
	"errors"
	"testing"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store"
)

// TestSetUserClaim: `ward user set --claim` text forms reach the typed
// claims, and each malformed value is refused naming the claim.
func TestSetUserClaim(t *testing.T) {
	var c store.UserClaims
	for _, nv := range [][2]string{
		{"name", "Alice Liddell"}, {"email", "alice@example.com"}, {"email_verified", "true"},
		{"phone_number", "+44 20 7946 0958;ext=12"}, {"locale", "en-GB"}, {"picture", "https://img.example/a.png"},
		{"address.locality", "Oxford"}, {"address.country", "GB"}, {"zoneinfo", "Europe/London"}, {"birthdate", "1852-05-04"},
	} {
		if err := config.SetUserClaim(&c, nv[0], nv[1]); err != nil {
			t.Fatalf("%s=%s: %v", nv[0], nv[1], err)
		}
	}
	if c.Name != "Alice Liddell" || c.EmailVerified == nil || !*c.EmailVerified || c.Address == nil || c.Address.Locality != "Oxford" {
		t.Fatalf("claims not set: %+v", c)
	}
	for _, nv := range [][2]string{
		{"email", "alice"}, {"email_verified", "yes"}, {"phone_number", "+0 12"}, {"phone_number", "0123456789"},
		{"locale", "en_US!"}, {"picture", "http://img.example/a.png"}, {"website", "javascript:alert(1)"},
		{"address.zip", "OX1"}, {"shoe_size", "44"}, {"sub", "x"}, {"updated_at", "1"}, {"birthdate", "May 4th"},
		{"address", `{"zip":"OX1"}`}, {"name", string(make([]byte, 1025))},
	} {
		d := c
		err := config.SetUserClaim(&d, nv[0], nv[1])
		if !errors.Is(err, config.ErrClaim) {
			t.Errorf("%s=%q: got %v, want ErrClaim", nv[0], nv[1], err)
		}
	}
	if err := config.UnsetUserClaim(&c, "address.locality"); err != nil || c.Address == nil || c.Address.Locality != "" {
		t.Fatalf("unset address.locality: %v %+v", err, c.Address)
	}
	if err := config.UnsetUserClaim(&c, "address.country"); err != nil || c.Address != nil {
		t.Fatalf("an address without members must go: %v %+v", err, c.Address)
	}
	if err := config.UnsetUserClaim(&c, "email_verified"); err != nil || c.EmailVerified != nil {
		t.Fatalf("unset email_verified: %v", err)
	}
}

// FuzzSetUserClaim: any name and value either fail with ErrClaim or leave
// claims that CheckUserClaims accepts.
func FuzzSetUserClaim(f *testing.F) {
	for _, s := range [][2]string{{"name", "Alice"}, {"address", `{"country":"FR"}`}, {"address.region", "IDF"},
		{"email_verified", "false"}, {"phone_number", "+1 (425) 555-1212"}, {"locale", "zh-Hant-TW"}, {"address", `{"x":1}`}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		var c store.UserClaims
		err := config.SetUserClaim(&c, name, value)
		if err != nil {
			if !errors.Is(err, config.ErrClaim) {
				t.Fatalf("error %v is not ErrClaim", err)
			}
			return
		}
		if err := config.CheckUserClaims(&c); err != nil {
			t.Fatalf("accepted claims fail the check: %v", err)
		}
	})
}
