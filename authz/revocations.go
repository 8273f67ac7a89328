package authz

import (
	"encoding/json"
	"net/http"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/revocation"
)

// PathRevocations is the revocation feed that gateways poll.
const PathRevocations = "/revocations"

// handleRevocations serves the revocation feed (package revocation,
// docs/GATEWAY.md "Revocation feed"): access tokens revoked by jti and
// grants revoked as a whole, oldest first, from the cursor in since. Not
// an RFC endpoint: callers authenticate as confidential clients
// registered with the scope ward:revocations, since the feed tells which
// grants exist.
func (s *Server) handleRevocations(w http.ResponseWriter, r *http.Request) {
	form, err := readForm(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.authenticateClient(r.Context(), r, form, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !contains(c.Scopes, revocation.ScopeRevocations) {
		s.writeError(w, r, oauth.New(oauth.UnauthorizedClient, "the client is not registered with the scope %s", revocation.ScopeRevocations))
		return
	}
	since, err := revocation.ParseCursor(form.Get("since"))
	if err != nil {
		s.writeError(w, r, oauth.New(oauth.InvalidRequest, "since is not a cursor of this feed"))
		return
	}
	src := revocation.Store{Log: s.st, MaxTokenLifetime: config.MaxAccessTokenTTL}
	page, err := src.Revocations(r.Context(), since)
	if err != nil {
		s.writeError(w, r, oauth.Wrap(err, "cannot read the revocations"))
		return
	}
	body, err := json.Marshal(page)
	if err != nil {
		s.writeError(w, r, oauth.Wrap(err, "cannot encode the revocations"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
