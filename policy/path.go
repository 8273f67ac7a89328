package policy

import (
	"errors"
	"strings"
)

// ErrAmbiguousPath is returned by CleanPath for a path that could be read
// differently by different servers; such a request must be refused.
var ErrAmbiguousPath = errors.New("policy: ambiguous request path")

// MaxPathLength bounds the paths CleanPath accepts.
const MaxPathLength = 8 << 10

type pathError struct{ why string }

func (e *pathError) Error() string   { return ErrAmbiguousPath.Error() + ": " + e.why }
func (e *pathError) Is(t error) bool { return t == ErrAmbiguousPath }

// CleanPath decodes an escaped request path (http.Request.URL.EscapedPath)
// and returns it if it is unambiguous, or an error wrapping
// ErrAmbiguousPath. See the package documentation for the rules.
func CleanPath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", &pathError{"path must start with /"}
	}
	if len(escaped) > MaxPathLength {
		return "", &pathError{"path too long"}
	}
	var b strings.Builder
	b.Grow(len(escaped))
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c == '%' {
			if i+2 >= len(escaped) || !ishex(escaped[i+1]) || !ishex(escaped[i+2]) {
				return "", &pathError{"invalid percent-encoding"}
			}
			c = unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			i += 2
			switch c {
			case '/':
				return "", &pathError{"encoded slash (%2F)"}
			case '%':
				return "", &pathError{"encoded percent sign (%25): double encoding"}
			}
		}
		switch {
		case c == '\\':
			return "", &pathError{"backslash"}
		case c == ';':
			return "", &pathError{"path parameter (;)"}
		case c < 0x20 || c == 0x7f:
			return "", &pathError{"control character"}
		}
		b.WriteByte(c)
	}
	p := b.String()
	// Segments: the first is empty (leading /); a trailing / leaves one
	// empty last segment, which is allowed.
	rest := p[1:]
	for rest != "" {
		seg, after, more := strings.Cut(rest, "/")
		switch {
		case seg == "" && more:
			return "", &pathError{"empty segment (//)"}
		case seg == "." || seg == "..":
			return "", &pathError{"dot segment"}
		case strings.HasSuffix(seg, "."):
			return "", &pathError{"segment ending in a dot"}
		}
		rest = after
	}
	return p, nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// pathPattern is a compiled path condition.
type pathPattern struct {
	kind  byte // 'e' exact, 'p' prefix, 's' suffix, '*' any
	value string
}

func compilePath(s string) (pathPattern, error) {
	switch {
	case s == "*":
		return pathPattern{kind: '*'}, nil
	case strings.HasPrefix(s, "*"):
		suffix := s[1:]
		if suffix == "" || strings.ContainsAny(suffix, "*/") {
			return pathPattern{}, errors.New("a suffix pattern is * followed by a file-name ending without / or *, such as *.json")
		}
		return pathPattern{kind: 's', value: suffix}, nil
	case strings.HasSuffix(s, "/*"):
		prefix := strings.TrimSuffix(s, "/*")
		if prefix == "" {
			return pathPattern{kind: '*'}, nil
		}
		if c, err := CleanPath(prefix); err != nil || c != prefix || strings.Contains(prefix, "*") {
			return pathPattern{}, errors.New("a prefix pattern is a clean path followed by /*, such as /api/*")
		}
		return pathPattern{kind: 'p', value: prefix}, nil
	}
	if c, err := CleanPath(s); err != nil || c != s || strings.Contains(s, "*") {
		return pathPattern{}, errors.New("a path is exact (/api/x), a prefix (/api/*), a suffix (*.json) or *; it must be clean (no dot segments, //, encoded characters)")
	}
	return pathPattern{kind: 'e', value: s}, nil
}

func (pp pathPattern) match(p string) bool {
	switch pp.kind {
	case '*':
		return true
	case 'e':
		return p == pp.value
	case 'p':
		return p == pp.value || strings.HasPrefix(p, pp.value) && p[len(pp.value)] == '/'
	case 's':
		return strings.HasSuffix(p, pp.value)
	}
	return false
}
