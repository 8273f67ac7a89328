package authz

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/strictjson"
	"github.com/wardauth/ward/store"
)

// This file is the subject identifier a client receives (OIDC Core §8):
// the user's own (public) or one derived per sector (pairwise), and the
// check of a client's sector identifier document (§8.1).

// Errors of the subject-type checks.
var (
	// ErrNoPairwiseSalt: a pairwise client exists but no salt is
	// configured (oidc.pairwise_salt_file, WARD_OIDC_PAIRWISE_SALT).
	ErrNoPairwiseSalt = errors.New("authz: pairwise subjects need oidc.pairwise_salt_file or " + config.EnvPairwiseSalt)
	// ErrSector: a client's sector cannot be determined, or its sector
	// identifier document does not list its redirect URIs.
	ErrSector = errors.New("authz: bad sector identifier")
)

// Limits of the sector identifier document fetch (OIDC Core §8.1).
const (
	SectorFetchTimeout = 5 * time.Second
	maxSectorBytes     = 64 << 10
	maxSectorURIs      = 1000
	minPairwiseSalt    = 32
)

// subjectFor returns the sub client c receives for the user whose own
// subject is sub: sub itself for a public client, the pairwise value for
// a pairwise one (OIDC Core §8). ID tokens, UserInfo, access tokens and
// introspection all use it, so the client sees one sub everywhere. It
// returns "" only when the pairwise subject cannot be computed (no salt,
// no sector), which New's and CheckSubjectTypes' checks rule out at
// start; callers that can fail use subject instead.
func (s *Server) subjectFor(c *store.Client, sub string) string {
	v, err := s.subject(c, sub)
	if err != nil {
		s.log.Error("authz: no subject for client", "client_id", c.ID, "err", err)
		return ""
	}
	return v
}

// subject is subjectFor with its error.
func (s *Server) subject(c *store.Client, sub string) (string, error) {
	if !c.Pairwise() {
		return sub, nil
	}
	if len(s.pairwiseSalt) == 0 {
		return "", fmt.Errorf("%w (client %q is pairwise)", ErrNoPairwiseSalt, c.ID)
	}
	sector, err := Sector(c)
	if err != nil {
		return "", err
	}
	return pairwiseSub(s.pairwiseSalt, sector, sub), nil
}

// pairwiseSub is OIDC Core §8.1's pairwise identifier: HMAC-SHA-256 keyed
// with the server's secret salt over the sector host and the local sub,
// base64url (43 characters). Stable for a (sector, user) pair, different
// across sectors, and without the salt neither reversible to the local
// sub nor computable by a client that knows it. The host cannot hold a
// NUL, so the separator makes the input unambiguous.
func pairwiseSub(salt []byte, sector, sub string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte("ward pairwise sub\x00"))
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(sub))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// clientSID returns the sid client c receives for the session whose own
// sid is sid (Back-Channel Logout 1.0 §2.4: "a Session ... at an RP",
// opaque to it): sid itself for a public client; for a pairwise one, one
// derived per sector as its sub is, since a sid shared across sectors
// would let them correlate the user that pairwise subs keep apart (OIDC
// Core §8). "" when sid is, or when it cannot be computed (no salt, no
// sector: subject fails then too). ID tokens, logout tokens and the
// end_session hint check all use it.
func (s *Server) clientSID(c *store.Client, sid string) string {
	if sid == "" || !c.Pairwise() {
		return sid
	}
	sector, err := Sector(c)
	if err != nil || len(s.pairwiseSalt) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, s.pairwiseSalt)
	m.Write([]byte("ward pairwise sid\x00"))
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Sector returns the sector identifier of a pairwise client (OIDC Core
// §8.1): the host of its sector_identifier_uri, else the one host of its
// redirect URIs. Several hosts, or a redirect URI without host, without a
// sector_identifier_uri is an error (config refuses such clients).
func Sector(c *store.Client) (string, error) {
	if c.SectorIdentifierURI != "" {
		if h := config.SectorHost(c.SectorIdentifierURI); h != "" {
			return h, nil
		}
		return "", fmt.Errorf("%w: client %q: sector_identifier_uri has no host", ErrSector, c.ID)
	}
	host := ""
	for i, r := range c.RedirectURIs {
		h := config.SectorHost(r)
		if h == "" || i > 0 && h != host {
			return "", fmt.Errorf("%w: client %q: its redirect_uris do not share one host: set sector_identifier_uri (OIDC Core §8.1)", ErrSector, c.ID)
		}
		host = h
	}
	if host == "" {
		return "", fmt.Errorf("%w: client %q has no redirect URI to take a sector from", ErrSector, c.ID)
	}
	return host, nil
}

// loadPairwiseSalt returns Options.PairwiseSalt, else the base64 value of
// WARD_OIDC_PAIRWISE_SALT or of the file oidc.pairwise_salt_file; nil
// when none is configured (or, in dev mode, when the file does not exist
// yet). A salt shorter than 32 bytes is refused.
func loadPairwiseSalt(cfg *config.Config, given []byte) ([]byte, error) {
	raw := cfg.OIDC.PairwiseSalt
	switch {
	case given != nil:
		if len(given) < minPairwiseSalt {
			return nil, fmt.Errorf("%w: Options.PairwiseSalt must be at least %d bytes", ErrConfig, minPairwiseSalt)
		}
		return given, nil
	case raw == "" && cfg.OIDC.PairwiseSaltFile != "":
		b, err := os.ReadFile(cfg.OIDC.PairwiseSaltFile)
		if cfg.Dev && errors.Is(err, fs.ErrNotExist) {
			// Dev mode's default file, made by `ward serve` at start; a
			// program embedding the server in dev mode without it has no
			// pairwise subjects (CheckSubjectTypes says so if needed).
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: oidc.pairwise_salt_file: %w", ErrConfig, err)
		}
		raw = string(b)
	case raw == "":
		return nil, nil
	}
	raw = strings.TrimSpace(raw)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			if len(b) < minPairwiseSalt {
				return nil, fmt.Errorf("%w: the pairwise salt (oidc.pairwise_salt_file or %s) is %d bytes; at least %d are needed",
					ErrConfig, config.EnvPairwiseSalt, len(b), minPairwiseSalt)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: the pairwise salt (oidc.pairwise_salt_file or %s) is not base64", ErrConfig, config.EnvPairwiseSalt)
}

// CheckSubjectTypes checks every stored client's subject type at start:
// a pairwise client needs the salt and a sector. `ward serve` calls it
// after SyncStatic and refuses to start on error, so subjectFor never
// fails while serving.
func (s *Server) CheckSubjectTypes(ctx context.Context) error {
	cs, err := s.st.ListClients(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if !c.Pairwise() {
			continue
		}
		if len(s.pairwiseSalt) == 0 {
			return fmt.Errorf("%w: client %q has subject_type pairwise; set oidc.pairwise_salt_file or %s",
				ErrNoPairwiseSalt, c.ID, config.EnvPairwiseSalt)
		}
		if _, err := Sector(c); err != nil {
			return err
		}
	}
	return nil
}

// CheckSectorIdentifier fetches client c's sector_identifier_uri and
// checks that the JSON array it serves lists every redirect URI of c
// (OIDC Core §8.1, Dynamic Client Registration 1.0 §5). It is called when
// a client is registered: `ward client create`, and the static clients
// of the file at every start (CheckStaticSectors). The fetch is bounded
// (SectorFetchTimeout, 64 KiB, no redirects) and fails closed: any error
// refuses the client, naming it and the key. hc nil: a default client.
func CheckSectorIdentifier(ctx context.Context, hc *http.Client, c *store.Client) error {
	if c.SectorIdentifierURI == "" {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: client %q: sector_identifier_uri %s: %s", ErrSector, c.ID, c.SectorIdentifierURI, fmt.Sprintf(format, args...))
	}
	if !strings.HasPrefix(c.SectorIdentifierURI, "https://") {
		return fail("must be https (OIDC Core §8.1)")
	}
	uris, err := fetchSector(ctx, hc, c.SectorIdentifierURI)
	if err != nil {
		return fail("%v", err)
	}
	for _, r := range c.RedirectURIs {
		if !slices.Contains(uris, r) {
			return fail("the document does not list redirect URI %q (OIDC Core §8.1)", r)
		}
	}
	return nil
}

// fetchSector GETs a sector identifier document and parses it.
func fetchSector(ctx context.Context, hc *http.Client, u string) ([]string, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	c := *hc
	c.Timeout = SectorFetchTimeout
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("redirects are not followed")
	}
	ctx, cancel := context.WithTimeout(ctx, SectorFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch it: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered HTTP %d, want 200", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSectorBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	if len(b) > maxSectorBytes {
		return nil, fmt.Errorf("the document exceeds %d bytes", maxSectorBytes)
	}
	return ParseSectorDocument(b)
}

// ParseSectorDocument parses a sector identifier document (OIDC Core
// §8.1): a JSON array of redirect URIs, each a non-empty string, at most
// 1000 of them; strict JSON (internal/strictjson).
func ParseSectorDocument(b []byte) ([]string, error) {
	var uris []string
	if err := strictjson.Unmarshal(b, &uris); err != nil {
		return nil, fmt.Errorf("not a JSON array of redirect URIs: %w", err)
	}
	if len(uris) > maxSectorURIs {
		return nil, fmt.Errorf("lists %d URIs, more than %d", len(uris), maxSectorURIs)
	}
	for _, u := range uris {
		if u == "" {
			return nil, errors.New("lists an empty URI")
		}
	}
	return uris, nil
}

// CheckStaticSectors checks the sector identifier document of every
// client of the file (CheckSectorIdentifier): `ward serve` calls it at
// start, before SyncStatic declares them.
func CheckStaticSectors(ctx context.Context, hc *http.Client, cfg *config.Config) error {
	for _, cc := range cfg.Clients {
		c := &store.Client{ID: cc.ID, RedirectURIs: cc.RedirectURIs, SectorIdentifierURI: cc.SectorIdentifierURI}
		if err := CheckSectorIdentifier(ctx, hc, c); err != nil {
			return fmt.Errorf("%w (clients[].sector_identifier_uri)", err)
		}
	}
	return nil
}
