package revocation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Entry is one revocation: an access token by its jti, or every access
// token of a grant by its grant_id claim.
type Entry struct {
	// Exactly one of JTI and GrantID is set.
	JTI, GrantID string
	// RevokedAt is when the authorization server revoked it.
	RevokedAt time.Time
	// Expires is when no token it refuses can still be valid: the
	// access token's exp, or RevokedAt + the longest access-token
	// lifetime for a grant.
	Expires time.Time
}

// Page is one answer of a Source: entries revoked at or after the cursor
// asked for, oldest first; Next is the cursor to ask for next, More says
// whether more entries are waiting right now.
type Page struct {
	Entries []Entry
	Next    Cursor
	More    bool
}

// Cursor is a position in the feed: a revocation time. Sources answer
// entries revoked at or after it, so an entry may come twice; a Set
// holds it once.
type Cursor time.Time

// String encodes c for the wire: decimal Unix nanoseconds.
func (c Cursor) String() string { return strconv.FormatInt(time.Time(c).UnixNano(), 10) }

// ParseCursor decodes a cursor from the wire; "" is the beginning.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor(time.Unix(0, 0)), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return Cursor{}, fmt.Errorf("%w: cursor %q is not Unix nanoseconds", ErrFeed, s)
	}
	return Cursor(time.Unix(0, n)), nil
}

// ErrFeed is a malformed or refused feed.
var ErrFeed = errors.New("revocation: bad feed")

// MaxIDLength bounds a jti or grant_id in the feed.
const MaxIDLength = 256

// wireEntry is an Entry on the wire: times in Unix seconds (revoked_at
// rounded down, exp rounded up, so neither shortens the refusal).
type wireEntry struct {
	JTI       string `json:"jti,omitempty"`
	GrantID   string `json:"grant_id,omitempty"`
	RevokedAt int64  `json:"revoked_at"`
	Exp       int64  `json:"exp"`
}

type wirePage struct {
	Revocations []wireEntry `json:"revocations"`
	Next        string      `json:"next"`
	More        bool        `json:"more"`
}

// MarshalJSON encodes p as the /revocations endpoint's answer.
func (p Page) MarshalJSON() ([]byte, error) {
	w := wirePage{Revocations: make([]wireEntry, len(p.Entries)), Next: p.Next.String(), More: p.More}
	for i, e := range p.Entries {
		exp := e.Expires.Unix()
		if e.Expires.Nanosecond() != 0 {
			exp++
		}
		w.Revocations[i] = wireEntry{JTI: e.JTI, GrantID: e.GrantID, RevokedAt: e.RevokedAt.Unix(), Exp: exp}
	}
	return json.Marshal(w)
}

// DecodePage parses the /revocations endpoint's answer. Every entry must
// name exactly one of jti and grant_id, of at most MaxIDLength bytes.
func DecodePage(b []byte) (Page, error) {
	var w wirePage
	if err := json.Unmarshal(b, &w); err != nil {
		return Page{}, fmt.Errorf("%w: %v", ErrFeed, err)
	}
	next, err := ParseCursor(w.Next)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: make([]Entry, 0, len(w.Revocations)), Next: next, More: w.More}
	for i, e := range w.Revocations {
		if (e.JTI == "") == (e.GrantID == "") || len(e.JTI) > MaxIDLength || len(e.GrantID) > MaxIDLength || e.Exp <= 0 || e.RevokedAt < 0 {
			return Page{}, fmt.Errorf("%w: entry %d must name one jti or grant_id (at most %d bytes) with exp and revoked_at", ErrFeed, i, MaxIDLength)
		}
		p.Entries = append(p.Entries, Entry{JTI: e.JTI, GrantID: e.GrantID, RevokedAt: time.Unix(e.RevokedAt, 0), Expires: time.Unix(e.Exp, 0)})
	}
	return p, nil
}
