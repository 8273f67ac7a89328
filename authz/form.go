package authz

import (
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/wardauth/ward/oauth"
)

// parseParams decodes form-encoded OAuth parameters strictly: a parameter
// sent twice is refused (RFC 6749 §3.1, §3.2), a parameter sent without a
// value is treated as omitted (RFC 6749 §3.1), except "resource", which
// RFC 8707 §2 allows to repeat.
func parseParams(raw string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.New(oauth.InvalidRequest, "the parameters are not valid form encoding")
	}
	for k, vals := range v {
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		return nil, oauth.New(oauth.InvalidRequest, "the body is too large or unreadable")
	}
	return parseParams(string(body))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
