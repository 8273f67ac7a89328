package strictjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// JOSENames are the registered names a JWS Ward reads may carry: header
// parameters (RFC 7515 §4.1, RFC 9449 §4.2) and claims (RFC 7519 §4.1,
// RFC 7800 §3.1, RFC 9068 §2.2, RFC 8693 §4).
var JOSENames = []string{
	"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64",
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf", "jkt",
	"client_id", "scope", "auth_time", "acr", "amr", "htm", "htu", "ath", "nonce", "act",
}

// CheckCompact checks the header and payload of a compact JWS (RFC 7515
// §7.1) before a JOSE library reads them: each is one JSON object with no
// duplicate member names at any level (Check), and no top-level member
// whose name differs only in case from one of names. It verifies nothing.
func CheckCompact(jws string, names []string) error {
	parts := strings.SplitN(jws, ".", 4)
	if len(parts) != 3 {
		return fmt.Errorf("%w: a compact JWS has three parts", ErrSyntax)
	}
	for i, what := range []string{"header", "payload"} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return fmt.Errorf("%w: %s is not base64url", ErrSyntax, what)
		}
		if err := CheckObject(b, names); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// CheckObject checks that b is one JSON object with no duplicate member
// names at any level and no top-level member whose name differs only in
// case from one of names.
func CheckObject(b []byte, names []string) error {
	var m map[string]json.RawMessage
	if err := Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("%w: not a JSON object", ErrType)
	}
	return caseVariants(m, names)
}

func caseVariants(m map[string]json.RawMessage, names []string) error {
	for k := range m {
		for _, n := range names {
			if k != n && bytes.EqualFold([]byte(k), []byte(n)) {
				return &CaseVariantError{Name: k, Field: n}
			}
		}
	}
	return nil
}
