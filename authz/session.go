package authz

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wardauth/ward/store"
)

// flow is the state of one authorization between /authorize and the code:
// the validated request. It travels through the browser sealed with
// AES-256-GCM under the flow key, so it cannot be read or forged, and
// expires after flowTTL.
type flow struct {
	Req     authRequest `json:"r"`
	Created int64       `json:"c"`
	ID      string      `json:"i"`
	// Login is the hash of the session the user logged in to during this
	// flow: that login satisfies max_age and prompt=login, an earlier one
	// never does, however recent.
	Login []byte `json:"l,omitempty"`
	// Device is the normalised user code of a device authorization
	// (device_page.go): the flow has no redirect URI and ends on the
	// /device page, not at the client.
	Device string `json:"dv,omitempty"`
}

var errBadFlow = errors.New("authz: flow state is invalid or expired")

func (s *Server) flowAEAD() cipher.AEAD {
	k := sha256.Sum256(append([]byte("ward flow v1\x00"), s.flowKey...))
	b, _ := aes.NewCipher(k[:])
	a, _ := cipher.NewGCM(b)
	return a
}

// sealFlow encrypts a flow for a URL or a hidden form field.
func (s *Server) sealFlow(f *flow) (string, error) {
	if f.ID == "" {
		f.ID = randomToken(16)
	}
	return s.seal(f, "flow")
}

// seal encrypts v's JSON under the flow key with AES-256-GCM, purpose as
// the additional data (so a value sealed for one purpose never opens as
// another), base64url: the one form of every state that travels through
// the browser (the flow, the logout confirmation).
func (s *Server) seal(v any, purpose string) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	a := s.flowAEAD()
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(pt)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, pt, []byte(purpose))), nil
}

// unseal opens what seal made for purpose into v; false when it is not
// one (too long, another encoding, forged, another purpose, not JSON).
func (s *Server) unseal(sealed, purpose string, v any) bool {
	if sealed == "" || len(sealed) > 16<<10 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(sealed) // one encoding per value
	a := s.flowAEAD()
	if err != nil || len(b) < a.NonceSize()+a.Overhead() {
		return false
	}
	pt, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], []byte(purpose))
	return err == nil && json.Unmarshal(pt, v) == nil
}

// openFlow decrypts and checks a sealed flow.
func (s *Server) openFlow(sealed string) (*flow, error) {
	var f flow
	if !s.unseal(sealed, "flow", &f) || f.ID == "" || s.now().After(time.Unix(f.Created, 0).Add(flowTTL)) {
		return nil, errBadFlow
	}
	return &f, nil
}

// csrfToken ties a form to the browser (the value of a cookie it holds)
// and to the flow: HMAC-SHA-256 under a key derived from the flow key.
func (s *Server) csrfToken(purpose, binding, flowID string) string {
	k := sha256.Sum256(append([]byte("ward csrf v1\x00"), s.flowKey...))
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(purpose + "\x00" + binding + "\x00" + flowID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) checkCSRF(got, purpose, binding, flowID string) bool {
	if got == "" || binding == "" {
		return false
	}
	return hmac.Equal([]byte(got), []byte(s.csrfToken(purpose, binding, flowID)))
}

// secureCookies: cookies get the __Host- prefix and Secure when the
// issuer is https. A __Host- cookie must be Secure (RFC 6265bis §4.1.3.2),
// so on an http dev issuer the cookies go without the prefix.
func (s *Server) secureCookies() bool { return strings.HasPrefix(s.issuer, "https://") }

func (s *Server) cookieName(base string) string {
	if s.secureCookies() {
		return "__Host-" + base
	}
	return base
}

// SessionCookie and BrowserCookie are the base names of the cookies the
// login pages set (with the __Host- prefix under https).
const (
	SessionCookie = "ward-session"
	BrowserCookie = "ward-browser"
)

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureCookies(),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

// browserID returns the browser-binding cookie, setting one if absent. It
// keys the login form's CSRF token, so an attacker cannot log a victim in
// to the attacker's account (login CSRF).
func (s *Server) browserID(w http.ResponseWriter, r *http.Request) string {
	if v := s.cookie(r, BrowserCookie); len(v) >= 22 && len(v) <= 64 {
		return v
	}
	v := randomToken(24)
	s.setCookie(w, BrowserCookie, v, 0)
	return v
}

// session returns the live login session of the request, or nil (also
// when the store cannot say: readSession tells that apart).
func (s *Server) session(r *http.Request) (*store.Session, string) {
	sess, v, err := s.readSession(r)
	if err != nil {
		s.log.Error("authz: reading the session", "err", err)
		return nil, ""
	}
	return sess, v
}

// readSession returns the live login session of the request and its
// cookie value; nil and no error when there is none, an error when the
// store cannot say.
func (s *Server) readSession(r *http.Request) (*store.Session, string, error) {
	v := s.cookie(r, SessionCookie)
	if v == "" || len(v) > 128 {
		return nil, "", nil
	}
	sess, err := s.st.GetSession(r.Context(), hashToken(v), s.now())
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return sess, v, nil
}

// startSession stores a new session for subject and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, subject string) (*store.Session, error) {
	if _, old := s.session(r); old != "" {
		_ = s.st.DeleteSession(r.Context(), hashToken(old))
	}
	now := s.now()
	ttl := s.cfg.Login.SessionTTL
	if ttl <= 0 {
		ttl = 8 * time.Hour
	}
	v := randomToken(32)
	sess := &store.Session{Hash: hashToken(v), Subject: subject, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.st.PutSession(r.Context(), sess); err != nil {
		return nil, err
	}
	s.setCookie(w, SessionCookie, v, int(ttl/time.Second))
	return sess, nil
}
