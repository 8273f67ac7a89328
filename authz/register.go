package authz

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// PathRegister is the client registration endpoint (RFC 7591 §3), served
// when config registration.enabled; PathRegister + "/{client_id}" is the
// client configuration endpoint (RFC 7592 §2).
const PathRegister = "/register"

// endpointRegister labels the registration rate limit.
const endpointRegister = "register"

// registrationIDPrefix starts every registered client_id, so that they
// never collide with configured ones that avoid it.
const registrationIDPrefix = "dyn_"

// registrationResponse is the client information response (RFC 7591
// §3.2.1, RFC 7592 §3).
type registrationResponse struct {
	ClientMetadata
	// ClientSecretExpiresAt is never sent: Ward issues no secrets.
}

func (s *Server) registrationRoutes(m *http.ServeMux) {
	if !s.cfg.Registration.Enabled {
		return
	}
	m.HandleFunc("POST "+PathRegister, s.handleRegister)
	m.HandleFunc("GET "+PathRegister+"/{id}", s.handleRegistrationRead)
	m.HandleFunc("PUT "+PathRegister+"/{id}", s.handleRegistrationUpdate)
	m.HandleFunc("DELETE "+PathRegister+"/{id}", s.handleRegistrationDelete)
}

// handleRegister registers a client (RFC 7591 §3.1): rate limit per
// address, then over all addresses (RFC 7591 §5: many addresses must not
// fill the client table before registration.unused_ttl), the initial access token (unless open registration covers the
// request), the policy (registration_policy.go), then the new client and
// its registration access token (RFC 7592 §1), answered once.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if !s.allow(w, r, s.limits.register.ip, endpointRegister, s.limits.clientIP(r)) ||
		!s.allow(w, r, s.limits.register.global, endpointRegister, "all") {
		return
	}
	token, hasToken := bearer(r)
	if !hasToken && !s.cfg.Registration.Open {
		s.writeRegError(w, r, invalidToken("an initial access token is required"))
		return
	}
	md, err := readClientMetadata(r)
	if err != nil {
		s.writeRegError(w, r, err)
		return
	}
	c, err := regPolicy{cfg: &s.cfg.Registration, open: !hasToken}.toClient(md)
	if err != nil {
		s.writeRegError(w, r, err)
		return
	}
	if hasToken {
		if err := s.useInitialAccessToken(r.Context(), token); err != nil {
			s.writeRegError(w, r, err)
			return
		}
	}
	rat, err := s.createRegistered(r.Context(), c)
	if err != nil {
		s.writeRegError(w, r, err)
		return
	}
	s.emit(r, secevent.Event{Type: secevent.ClientChanged, ClientID: c.ID, Reason: "registered"})
	s.writeRegistration(w, http.StatusCreated, c, rat)
}

// createRegistered stores c under a new client_id with the hash of a new
// registration access token, which it returns.
func (s *Server) createRegistered(ctx context.Context, c *store.Client) (string, error) {
	now := s.now()
	c.ID = registrationIDPrefix + randomToken(16)
	rat := randomToken(32)
	c.RegistrationTokenHash = hashToken(rat)
	c.ExpiresAt = now.Add(s.cfg.Registration.UnusedTTL)
	if err := normaliseClient(c); err != nil {
		return "", metadataErr("%s", strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
	}
	if _, err := CreateClient(ctx, s.st, c, now); err != nil {
		return "", oauth.Wrap(err, "cannot store the client")
	}
	return rat, nil
}

// useInitialAccessToken checks (and, when single use, spends) an initial
// access token (RFC 7591 §3): stored as SHA-256, looked up by it.
func (s *Server) useInitialAccessToken(ctx context.Context, token string) error {
	_, err := s.st.UseInitialAccessToken(ctx, hashToken(token), s.now())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExpired):
		return invalidToken("the initial access token is unknown, used or expired")
	case err != nil:
		return oauth.Wrap(err, "cannot check the initial access token")
	}
	return nil
}

// handleRegistrationRead answers the client's current registration (RFC
// 7592 §2.1).
func (s *Server) handleRegistrationRead(w http.ResponseWriter, r *http.Request) {
	c, ok := s.registeredClient(w, r)
	if !ok {
		return
	}
	s.writeRegistration(w, http.StatusOK, c, "")
}

// handleRegistrationUpdate replaces the client's metadata (RFC 7592 §2.2)
// under the same policy as a registration, keeping its authentication
// method, and rotates the registration access token: the one used for
// the update stops working.
func (s *Server) handleRegistrationUpdate(w http.ResponseWriter, r *http.Request) {
	old, ok := s.registeredClient(w, r)
	if !ok {
		return
	}
	md, err := readClientMetadata(r)
	if err == nil {
		err = checkUpdateMembers(md, old)
	}
	var c *store.Client
	if err == nil {
		c, err = regPolicy{cfg: &s.cfg.Registration}.toClient(md)
	}
	if err != nil {
		s.writeRegError(w, r, err)
		return
	}
	rat := randomToken(32)
	c.ID, c.CreatedAt, c.RegistrationTokenHash = old.ID, old.CreatedAt, hashToken(rat)
	c.Dynamic = true
	c.ExpiresAt = s.now().Add(s.cfg.Registration.UnusedTTL)
	if err := normaliseClient(c); err != nil {
		s.writeRegError(w, r, metadataErr("%s", strings.TrimPrefix(err.Error(), ErrConfig.Error()+": ")))
		return
	}
	// Only if the token used is still the client's: of two concurrent
	// updates one wins, and a deleted client stays deleted.
	err = s.st.ReplaceDynamicClient(r.Context(), c, old.RegistrationTokenHash)
	if errors.Is(err, store.ErrNotFound) {
		err = invalidToken("the registration access token is not valid for this client")
	} else if err != nil {
		err = oauth.Wrap(err, "cannot store the client")
	}
	if err != nil {
		s.writeRegError(w, r, err)
		return
	}
	s.clients.forget(c.ID)
	s.emit(r, secevent.Event{Type: secevent.ClientChanged, ClientID: c.ID, Reason: "registration_updated"})
	s.writeRegistration(w, http.StatusOK, c, rat)
}

// checkUpdateMembers applies RFC 7592 §2.2: client_id must be the
// client's, the server-issued members must be absent, and the
// authentication method cannot change.
func checkUpdateMembers(md *ClientMetadata, old *store.Client) error {
	switch {
	case md.ClientID != old.ID:
		return oauth.New(oauth.InvalidRequest, "client_id must be the client's own")
	case md.RegistrationAccessToken != "" || md.RegistrationClientURI != "" ||
		md.ClientIDIssuedAt != nil || md.ClientSecretExpiresAt != nil || md.ClientSecret != "":
		return oauth.New(oauth.InvalidRequest, "an update must not carry registration_access_token, registration_client_uri, client_id_issued_at, client_secret or client_secret_expires_at")
	case md.TokenEndpointAuthMethod != "" && md.TokenEndpointAuthMethod != old.AuthMethod:
		return metadataErr("token_endpoint_auth_method cannot change")
	}
	md.TokenEndpointAuthMethod = old.AuthMethod
	return nil
}

// handleRegistrationDelete deletes the client (RFC 7592 §2.3): 204. Its
// refresh tokens stop working at once (the client is unknown); access
// tokens live out their short lifetime.
func (s *Server) handleRegistrationDelete(w http.ResponseWriter, r *http.Request) {
	c, ok := s.registeredClient(w, r)
	if !ok {
		return
	}
	if err := s.st.DeleteClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.writeRegError(w, r, oauth.Wrap(err, "cannot delete the client"))
		return
	}
	s.clients.forget(c.ID)
	s.emit(r, secevent.Event{Type: secevent.ClientChanged, ClientID: c.ID, Reason: "registration_deleted"})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// registeredClient authenticates a client configuration request (RFC 7592
// §2): the rate limit, then the registration access token, compared in
// constant time with the stored hash of the named dynamic client. Every
// failure is the same 401 invalid_token, whether the client is unknown,
// static or the token wrong (RFC 7592 §2.1: no hint that it exists).
func (s *Server) registeredClient(w http.ResponseWriter, r *http.Request) (*store.Client, bool) {
	if !s.allow(w, r, s.limits.register.ip, endpointRegister, s.limits.clientIP(r)) {
		return nil, false
	}
	token, ok := bearer(r)
	if !ok {
		s.writeRegError(w, r, invalidToken("a registration access token is required"))
		return nil, false
	}
	c, err := s.st.GetClient(r.Context(), r.PathValue("id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.writeRegError(w, r, oauth.Wrap(err, "cannot read the client"))
		return nil, false
	}
	sum := hashToken(token)
	if c == nil || !c.Dynamic || len(c.RegistrationTokenHash) != len(sum) ||
		subtle.ConstantTimeCompare(c.RegistrationTokenHash, sum) != 1 {
		s.writeRegError(w, r, invalidToken("the registration access token is not valid for this client"))
		return nil, false
	}
	return c, true
}

// readClientMetadata reads the JSON body of a registration or update.
func readClientMetadata(r *http.Request) (*ClientMetadata, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, metadataErr("the body must be application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRegistrationBytes+1))
	if err != nil {
		return nil, oauth.New(oauth.InvalidRequest, "cannot read the body")
	}
	return ParseClientMetadata(body)
}

// bearer returns the token of an Authorization: Bearer header (RFC 6750
// §2.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", h != ""
	}
	return tok, true
}

// writeRegError renders a registration error; 401 invalid_token carries
// a Bearer challenge (RFC 6750 §3).
func (s *Server) writeRegError(w http.ResponseWriter, r *http.Request, err error) {
	if e := asProtocolError(err); e.Code == oauth.InvalidToken {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	s.writeEndpointError(w, r, endpointRegister, err)
}

// writeRegistration answers the client information (RFC 7591 §3.2.1),
// with the registration access token when one was just issued.
func (s *Server) writeRegistration(w http.ResponseWriter, status int, c *store.Client, rat string) {
	resp := registrationResponse{ClientMetadata: registeredMetadata(c)}
	resp.RegistrationAccessToken = rat
	resp.RegistrationClientURI = s.url(PathRegister + "/" + c.ID)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
