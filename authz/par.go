package authz

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/store"
)

// handlePAR is the pushed authorization request endpoint (RFC 9126 §2).
// The client authenticates as at the token endpoint; the request is its
// form or, when it sends one, its signed request object (parParams, RFC
// 9126 §3); a DPoP proof, when sent, binds the code to its key
// (parProof); the request is validated in full now, errors answered as
// JSON; the request_uri it returns is single-use and short-lived.
func (s *Server) handlePAR(w http.ResponseWriter, r *http.Request) {
	form, c, ok := s.clientRequest(w, r, endpointPAR, s.limits.par)
	if !ok {
		return
	}
	if form.Get("request_uri") != "" {
		s.writeError(w, r, oauth.New(oauth.InvalidRequest, "request_uri may not be pushed (RFC 9126 §2.1)"))
		return
	}
	form, ro, perr := s.parParams(c, form)
	if perr != nil {
		s.writeError(w, r, perr)
		return
	}
	jkt, err := s.parProof(r, form.Get("dpop_jkt"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The request object's jti is used only now, so that a client that
	// sends it again after a use_dpop_nonce challenge is not refused.
	if ro != nil {
		if e := s.useRequestObject(r.Context(), c, ro); e != nil {
			s.writeError(w, r, e)
			return
		}
	}
	if jkt != "" {
		form.Set("dpop_jkt", jkt)
	}
	if _, aerr := s.validateAuthorization(c, form); aerr != nil {
		s.writeError(w, r, aerr.Error)
		return
	}
	// Client credentials are not part of the authorization request.
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		form.Del(k)
	}
	now := s.now()
	ttl := s.cfg.PAR.TTL
	if ttl <= 0 {
		ttl = 60e9
	}
	p := &store.PARRequest{ID: randomToken(32), ClientID: c.ID, Params: form.Encode(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.st.PutPAR(r.Context(), p); err != nil {
		s.writeError(w, r, oauth.Wrap(err, "cannot store the request"))
		return
	}
	s.writePARCreated(w, p.ID, ttl)
}

// writePARCreated answers a stored push with its request_uri (RFC 9126
// §2.2).
func (s *Server) writePARCreated(w http.ResponseWriter, id string, ttl time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if s.nonces {
		// RFC 9449 §8: a fresh nonce for the client's next request.
		h.Set("DPoP-Nonce", s.dpop.Nonce())
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int64  `json:"expires_in"`
	}{requestURIPrefix + id, int64(ttl.Seconds())})
}

// parParams returns the authorization request of a PAR request: the
// parameters of its signed request object, verified but its jti not yet
// used, when it sends one (RFC 9126 §3: the object's client_id must be
// the authenticated client's; RFC 9101 §6.3: only the object's parameters
// are used, the form's others are ignored); else the form itself, refused
// when the client must send a request object (RFC 9101 §10.5).
func (s *Server) parParams(c *client, form url.Values) (url.Values, *verifiedRequestObject, error) {
	if raw := form.Get("request"); raw != "" {
		ro, e := s.checkRequestObject(c, raw)
		if e != nil {
			return nil, nil, e
		}
		return ro.params, ro, nil
	}
	if s.requiresRequestObject(c) {
		return nil, nil, errRequestObjectRequired()
	}
	if form.Get("client_id") == "" {
		form.Set("client_id", c.ID)
	}
	return form, nil, nil
}
