package authz

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardauth/ward/oauth"
)

// parseParams decodes form-encoded OAuth parameters strictly: a parameter
// sent twice is refused (RFC 6749 §3.1, §3.2), a parameter sent without a
// value is treated as omitted (RFC 6749 §3.1), except "resource", which
// RFC 8707 §2 allows to repeat.
func parseParams(raw string) (url.Values, error) {
	// Input limits: a count of fields and a length per value, checked
	// before decoding (a field is at least one '&'-separated piece).
	if n := strings.Count(raw, "&") + strings.Count(raw, ";") + 1; n > maxFormFields {
		return nil, oauth.New(oauth.InvalidRequest, "too many parameters (at most %d)", maxFormFields)
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.New(oauth.InvalidRequest, "the parameters are not valid form encoding")
	}
	for k, vals := range v {
		if len(k) > maxParamBytes {
			return nil, oauth.New(oauth.InvalidRequest, "a parameter name is too long")
		}
		for _, x := range vals {
			if len(x) > maxParamBytes {
				return nil, oauth.New(oauth.InvalidRequest, "parameter %q is too long (at most %d bytes)", truncate(k, 64), maxParamBytes)
			}
		}
		if k == "resource" {
			kept := vals[:0]
			for _, x := range vals {
				if x != "" {
					kept = append(kept, x)
				}
			}
			if len(kept) == 0 {
				delete(v, k)
			} else {
				v[k] = kept
			}
			continue
		}
		if len(vals) > 1 {
			return nil, oauth.New(oauth.InvalidRequest, "parameter %q was sent more than once", truncate(k, 64))
		}
		if vals[0] == "" {
			delete(v, k)
		}
	}
	return v, nil
}

// readForm reads a POST body of type application/x-www-form-urlencoded,
// at most maxFormBytes long. Parameters in the query string of a POST are
// not read.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, &oauth.Error{Code: oauth.InvalidRequest, Description: "use POST", Status: http.StatusMethodNotAllowed}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.New(oauth.InvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	if r.ContentLength > maxFormBytes {
		return nil, &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusRequestEntityTooLarge, Description: fmt.Sprintf("the body is larger than %d bytes", maxFormBytes)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &oauth.Error{Code: oauth.InvalidRequest, Status: http.StatusRequestEntityTooLarge, Description: fmt.Sprintf("the body is larger than %d bytes", maxFormBytes)}
		}
		return nil, oauth.New(oauth.InvalidRequest, "the body is unreadable")
	}
	return parseParams(string(body))
}

// Input limits of every form (maxFormBytes bounds the body). The longest
// legitimate value is a client assertion (maxAssertionBytes, 16 KiB) or a
// pushed request's parameters; OAuth requests carry about twenty fields.
const (
	maxFormFields = 100
	maxParamBytes = maxAssertionBytes
)

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
