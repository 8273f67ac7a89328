package client

import (
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1), e.g. DPoP error="use_dpop_nonce" (RFC 9449 §7.1, §9).
type Challenge struct {
	// Scheme is the auth-scheme as sent, e.g. "DPoP" or "Bearer".
	Scheme string
	// Params are the auth-params, names lower-cased, quoted-string
	// values unescaped. A token68 is stored under the empty name.
	Params map[string]string
}

// ParseChallenges parses the values of WWW-Authenticate headers into
// challenges. It is lenient: what cannot be parsed is skipped, and it
// never fails.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = append(out, parseChallenges(v)...)
	}
	return out
}

func isTokenChar(c byte) bool {
	// RFC 9110 §5.6.2 tchar.
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func readToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTokenChar(s[j]) {
		j++
	}
	return s[i:j], j
}

// readQuoted reads a quoted-string starting at s[i] == '"'.
func readQuoted(s string, i int) (string, int, bool) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", i, false
}

// parseChallenges parses one header value:
//
//	challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
func parseChallenges(s string) []Challenge {
	var out []Challenge
	var cur *Challenge
	i := 0
	for i < len(s) {
		i = skipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		name, j := readToken(s, i)
		if name == "" {
			// Not a token: skip to the next comma.
			for i < len(s) && s[i] != ',' {
				i++
			}
			continue
		}
		k := skipSpace(s, j)
		if k < len(s) && s[k] == '=' && cur != nil {
			// An auth-param, unless it is a token68 ending in '='.
			v := skipSpace(s, k+1)
			var val string
			ok := true
			switch {
			case v < len(s) && s[v] == '"':
				val, v, ok = readQuoted(s, v)
			default:
				val, v = readToken(s, v)
			}
			// RFC 9110 §11.2: a parameter occurs once per challenge; a
			// repeated one is ignored, so a later empty error= cannot
			// hide the first.
			if _, dup := cur.Params[strings.ToLower(name)]; ok && !dup {
				cur.Params[strings.ToLower(name)] = val
			}
			i = v
			continue
		}
		// A new challenge: scheme, then maybe a token68.
		out = append(out, Challenge{Scheme: name, Params: map[string]string{}})
		cur = &out[len(out)-1]
		i = skipSpace(s, j)
		t, e := readToken68(s, i)
		if t != "" {
			after := skipSpace(s, e)
			if after >= len(s) || s[after] == ',' {
				cur.Params[""] = t
				i = after
			}
		}
	}
	return out
}

// readToken68 reads token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=".
func readToken68(s string, i int) (string, int) {
	j := i
	for j < len(s) {
		c := s[j]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-._~+/", c) >= 0 {
			j++
			continue
		}
		break
	}
	if j == i {
		return "", i
	}
	for j < len(s) && s[j] == '=' {
		j++
	}
	return s[i:j], j
}
