package authz

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wardauth/ward/internal/golden"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// TestErrorPagesGolden: the error page a browser shows when the client or
// its redirect URI cannot be trusted (no redirect, RFC 6749 §4.1.2.1),
// for a refused request, an unknown client, an internal failure (cause
// hidden) and the store out of reach (503, Retry-After), compared with
// testdata/pages/<name>.txt (-update rewrites them). The issuer's
// loopback address is written as https://issuer.example.
func TestErrorPagesGolden(t *testing.T) {
	h := newHarness(t)
	for name, c := range map[string]struct {
		status int
		err    *oauth.Error
	}{
		"invalid_request":   {http.StatusBadRequest, oauth.New(oauth.InvalidRequest, "this sign-in request is invalid or has expired; go back to the application and start again")},
		"invalid_client":    {http.StatusBadRequest, oauth.New(oauth.InvalidClient, "the application is no longer registered")},
		"method":            {http.StatusMethodNotAllowed, oauth.New(oauth.InvalidRequest, "use GET or POST")},
		"server_error":      {http.StatusInternalServerError, oauth.Wrap(fmt.Errorf("disk full"), "cannot start the session")},
		"store_unavailable": {http.StatusInternalServerError, oauth.Wrap(fmt.Errorf("dial: %w", store.ErrUnavailable), "cannot read the client")},
		"escaped":           {http.StatusBadRequest, oauth.New(oauth.InvalidRequest, `redirect_uri "<script>" is not registered`)},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.s.errorPage(rec, httptest.NewRequest("GET", h.issuer+PathLogin, nil), c.status, c.err)
			got := bytes.ReplaceAll(golden.Response(rec), []byte(h.issuer), []byte("https://issuer.example"))
			golden.Check(t, filepath.Join("testdata", "pages", name+".txt"), got, *update)
		})
	}
}
