package revocation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/store"
)

// Source pages through the revocation feed.
type Source interface {
	// Revocations returns entries revoked at or after since.
	Revocations(ctx context.Context, since Cursor) (Page, error)
}

// DefaultPageSize is the number of entries a Source answers at most.
const DefaultPageSize = 1000

// MaxPageBytes bounds an answer of the /revocations endpoint.
const MaxPageBytes = 4 << 20

// Store reads the feed from the authorization server's store: in
// process, and behind the /revocations endpoint.
type Store struct {
	Log store.RevocationLog
	// MaxTokenLifetime is how long after its revocation a grant's access
	// tokens may still be valid: config.MaxAccessTokenTTL.
	MaxTokenLifetime time.Duration
	// PageSize; default DefaultPageSize.
	PageSize int
}

var _ Source = Store{}

// Revocations implements Source.
func (s Store) Revocations(ctx context.Context, since Cursor) (Page, error) {
	n := s.PageSize
	if n <= 0 {
		n = DefaultPageSize
	}
	rs, err := s.Log.ListRevocations(ctx, time.Time(since), n)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: make([]Entry, len(rs)), Next: since, More: len(rs) == n}
	for i, r := range rs {
		e := Entry{JTI: r.JTI, GrantID: r.GrantID, RevokedAt: r.RevokedAt, Expires: r.Expires}
		if r.GrantID != "" {
			e.Expires = r.RevokedAt.Add(s.MaxTokenLifetime)
		}
		p.Entries[i] = e
		p.Next = Cursor(r.RevokedAt)
	}
	return p, nil
}

// HTTP reads the feed from an authorization server's /revocations
// endpoint, authenticating as a confidential client with
// client_secret_basic (RFC 6749 §2.3.1). The client must be registered
// with the scope ScopeRevocations.
type HTTP struct {
	// URL of the endpoint, e.g. https://as.example/revocations.
	URL                    string
	ClientID, ClientSecret string
	// Client; default a client with a 10 s timeout.
	Client *http.Client
}

// ScopeRevocations is the scope a client needs to read the feed.
const ScopeRevocations = "ward:revocations"

var _ Source = (*HTTP)(nil)

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Revocations implements Source.
func (h *HTTP) Revocations(ctx context.Context, since Cursor) (Page, error) {
	form := url.Values{"since": {since.String()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return Page{}, fmt.Errorf("revocation: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(h.ClientID), url.QueryEscape(h.ClientSecret))
	c := h.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("revocation: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPageBytes+1))
	if err != nil {
		return Page{}, fmt.Errorf("revocation: reading the feed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, fmt.Errorf("%w: %s answered %s", ErrFeed, h.URL, resp.Status)
	}
	if len(body) > MaxPageBytes {
		return Page{}, fmt.Errorf("%w: answer over %d bytes", ErrFeed, MaxPageBytes)
	}
	return DecodePage(body)
}
