package config

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"unicode"

	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/store"
)

// ErrClaim is wrapped by every refusal of a user claim (CheckUserClaims,
// SetUserClaim, UnsetUserClaim).
var ErrClaim = errors.New("config: bad user claim")

// maxClaimLen bounds each string claim: a profile, not a document.
const maxClaimLen = 1024

var (
	birthdate = regexp.MustCompile(`^[0-9]{4}(-[0-9]{2}-[0-9]{2})?$`)
	// email: loosely RFC 5322's addr-spec: one @, no spaces, a dot in the
	// domain. Whether the address works is what email_verified says.
	email = regexp.MustCompile(`^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$`)
	// phone: E.164 (OIDC Core §5.1 phone_number: "+" then up to 15
	// digits) written with optional spaces, dots, hyphens or parentheses,
	// and an RFC 3966 extension.
	phoneChars = regexp.MustCompile(`^\+[0-9 ().-]+(;ext=[0-9]{1,10})?$`)
	phoneE164  = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)
	// locale: a BCP 47 language tag (language, then subtags), OIDC Core
	// §5.1; "en-US", "fr", "zh-Hant-TW".
	locale = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	// zoneinfo: an IANA time zone name such as Europe/Paris.
	zoneinfo = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)
)

// CheckUserClaims checks the values of a user's claims by the formats OIDC
// Core §5.1 gives them: https URLs for profile, picture and website, an
// email address, an E.164 phone number, a BCP 47 locale, an IANA zoneinfo,
// a YYYY-MM-DD or YYYY birthdate, an address with at least one member;
// no string longer than 1024 bytes or holding control characters. The
// error names the claim and wraps ErrClaim.
func CheckUserClaims(c *store.UserClaims) error {
	if err := eachString(reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	for _, nu := range [][2]string{{"profile", c.Profile}, {"picture", c.Picture}, {"website", c.Website}} {
		name, u := nu[0], nu[1]
		if pu, err := url.Parse(u); u != "" && (err != nil || pu.Scheme != "https" || pu.Host == "" || pu.User != nil) {
			return claimErr(name, "%q is not an https URL", u)
		}
	}
	checks := []struct {
		name, val string
		ok        func(string) bool
		want      string
	}{
		{"email", c.Email, email.MatchString, "is not an email address"},
		{"phone_number", c.PhoneNumber, phoneOK, `is not an E.164 phone number such as "+33 1 23 45 67 89" (OIDC Core §5.1)`},
		{"locale", c.Locale, locale.MatchString, `is not a BCP 47 language tag such as "en-US" (OIDC Core §5.1)`},
		{"zoneinfo", c.Zoneinfo, zoneinfo.MatchString, `is not a time zone name such as "Europe/Paris" (OIDC Core §5.1)`},
		{"birthdate", c.Birthdate, birthdate.MatchString, "is not YYYY-MM-DD or YYYY (OIDC Core §5.1)"},
	}
	for _, ck := range checks {
		if ck.val != "" && !ck.ok(ck.val) {
			return claimErr(ck.name, "%q %s", ck.val, ck.want)
		}
	}
	if err := checkRoles(c.Roles); err != nil {
		return err
	}
	if c.Address != nil && *c.Address == (store.Address{}) {
		return claimErr("address", "has no member (formatted, street_address, locality, region, postal_code, country)")
	}
	return nil
}

func phoneOK(s string) bool {
	if !phoneChars.MatchString(s) {
		return false
	}
	num, _, _ := strings.Cut(s[1:], ";")
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, num)
	return phoneE164.MatchString(digits)
}

// claimError is a refused claim: its message names the claim; it is
// ErrClaim.
type claimError struct{ msg string }

func (e *claimError) Error() string        { return e.msg }
func (e *claimError) Is(target error) bool { return target == ErrClaim }

func claimErr(name, format string, args ...any) error {
	return &claimError{fmt.Sprintf("claim %q: %s", name, fmt.Sprintf(format, args...))}
}

// eachString checks every string member of v (UserClaims, Address) for
// length and control characters; prefix names the enclosing claim.
func eachString(v reflect.Value, prefix string) error {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.String:
			s := f.String()
			if len(s) > maxClaimLen {
				return claimErr(prefix+name, "longer than %d bytes", maxClaimLen)
			}
			if strings.IndexFunc(s, unicode.IsControl) >= 0 && name != "formatted" && name != "street_address" {
				return claimErr(prefix+name, "holds a control character")
			}
		case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Struct:
			if err := eachString(f.Elem(), name+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetUserClaim sets one claim of c from its text form, as `ward user set
// --claim name=value` gives it: a string claim as is, email_verified and
// phone_number_verified as true or false, an address member as
// address.locality=Paris (or the whole address as a JSON object). The
// result is checked with CheckUserClaims.
func SetUserClaim(c *store.UserClaims, name, value string) error {
	if name == "sub" || name == "updated_at" {
		return claimErr(name, "is not set: Ward takes it from the user record")
	}
	if member, ok := strings.CutPrefix(name, "address."); ok {
		if _, known := addressNames[member]; !known {
			return claimErr(name, "unknown address member (OIDC Core §5.1.1: formatted, street_address, locality, region, postal_code, country)")
		}
		if c.Address == nil {
			c.Address = &store.Address{}
		}
		setString(reflect.ValueOf(c.Address).Elem(), member, value)
		return CheckUserClaims(c)
	}
	t, ok := claimNames[name]
	switch {
	case !ok:
		return claimErr(name, "unknown claim (the standard claims of OIDC Core §5.1: name, given_name, family_name, email, email_verified, phone_number, address.*, ...)")
	case t == reflect.TypeFor[*bool]():
		if value != "true" && value != "false" {
			return claimErr(name, "%q is not true or false", value)
		}
		b := value == "true"
		field(reflect.ValueOf(c).Elem(), name).Set(reflect.ValueOf(&b))
	case t == reflect.TypeFor[[]string](): // roles: a comma-separated list
		c.Roles = nil
		for _, r := range strings.Split(value, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.Roles = append(c.Roles, r)
			}
		}
	case t == reflect.TypeFor[*store.Address]():
		var a store.Address
		if err := strictjson.Unmarshal([]byte(value), &a); err != nil {
			return claimErr(name, "not a JSON object of formatted, street_address, locality, region, postal_code, country: %v", err)
		}
		c.Address = &a
	default:
		setString(reflect.ValueOf(c).Elem(), name, value)
	}
	return CheckUserClaims(c)
}

// UnsetUserClaim removes one claim (or one address member) from c.
func UnsetUserClaim(c *store.UserClaims, name string) error {
	if member, ok := strings.CutPrefix(name, "address."); ok {
		if _, known := addressNames[member]; !known {
			return claimErr(name, "unknown address member")
		}
		if c.Address != nil {
			setString(reflect.ValueOf(c.Address).Elem(), member, "")
			if *c.Address == (store.Address{}) {
				c.Address = nil
			}
		}
		return nil
	}
	if _, ok := claimNames[name]; !ok {
		return claimErr(name, "unknown claim")
	}
	f := field(reflect.ValueOf(c).Elem(), name)
	f.Set(reflect.Zero(f.Type()))
	return nil
}

// field returns the member of struct v whose JSON name is name.
func field(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name {
			return v.Field(i)
		}
	}
	panic("config: no member " + name) // callers check the name first
}

func setString(v reflect.Value, name, value string) { field(v, name).SetString(value) }

// maxRoles bounds a user's roles.
const maxRoles = 16

// checkRoles checks the roles claim: at most 16 distinct role names.
func checkRoles(roles []string) error {
	if len(roles) > maxRoles {
		return claimErr("roles", "more than %d roles", maxRoles)
	}
	for i, r := range roles {
		if !RoleName.MatchString(r) {
			return claimErr("roles", "%q is not a role name (lower-case letters, digits, _ . : -; at most 64)", clipClaim(r))
		}
		for _, o := range roles[:i] {
			if o == r {
				return claimErr("roles", "%q appears twice", r)
			}
		}
	}
	return nil
}

func clipClaim(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
