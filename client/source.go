package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/oauth2"
)

// TokenSource is an oauth2.TokenSource of DPoP-bound tokens that renews
// its token before expiry: by the client credentials grant, or with the
// refresh token, storing the rotated refresh token together with the new
// access token in one step. It is safe for concurrent use; however many
// goroutines ask while the token is stale, one request is in flight and
// all of them get its result.
//
// Token uses context.Background(); TokenContext takes a context, which
// bounds that call only (the source keeps none).
type TokenSource struct {
	c     *Client
	fetch func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error)

	mu     sync.Mutex
	tok    *oauth2.Token
	flight *flight
}

// flight is one renewal in progress.
type flight struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

// ClientCredentialsTokenSource returns a TokenSource that obtains tokens
// with the client credentials grant, a new one shortly before each
// expires.
func (c *Client) ClientCredentialsTokenSource() *TokenSource {
	return &TokenSource{c: c, fetch: func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		return c.ClientCredentials(ctx)
	}}
}

// TokenSource returns a TokenSource that starts from tok (typically from
// AuthorizeLoopback or Exchange) and renews it with its refresh token,
// which must be bound to this Client's key.
func (c *Client) TokenSource(tok *oauth2.Token) *TokenSource {
	return &TokenSource{c: c, tok: tok, fetch: func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		if old == nil || old.RefreshToken == "" {
			return nil, ErrNoRefreshToken
		}
		return c.Refresh(ctx, old.RefreshToken)
	}}
}

// Token returns a valid token, renewing it if needed. It implements
// oauth2.TokenSource.
func (s *TokenSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

// fresh reports whether tok may still be used for RefreshMargin.
func (s *TokenSource) fresh(tok *oauth2.Token) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	return s.c.o.clock().Add(s.c.o.refreshMargin).Before(tok.Expiry)
}

// TokenContext is Token with a context for the renewal request, if one is
// made. A caller whose context ends stops waiting; the renewal it was
// waiting for goes on for the others, unless it was this caller's own
// request.
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	for {
		s.mu.Lock()
		if s.fresh(s.tok) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		f := s.flight
		if f == nil {
			// This caller leads the renewal.
			f = &flight{done: make(chan struct{})}
			s.flight = f
			old := s.tok
			s.mu.Unlock()
			f.tok, f.err = s.renew(ctx, old)
			s.mu.Lock()
			s.flight = nil
			s.mu.Unlock()
			close(f.done)
			return f.tok, f.err
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
			// The leader gave up, not the server: try again.
			continue
		}
		return f.tok, f.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// renew fetches a new token and stores it, with its refresh token, in one
// step before anyone can read it.
func (s *TokenSource) renew(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
	tok, err := s.fetch(ctx, old)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
	if s.c.o.saver != nil {
		// Under the lock, so saves are in order and a reader never sees a
		// token that the saver has not been offered.
		if err := s.c.o.saver.SaveToken(tok); err != nil {
			return nil, fmt.Errorf("client: save token: %w", err)
		}
	}
	return tok, nil
}

// Peek returns the current token without renewing it (nil before the
// first), e.g. to save it at exit.
func (s *TokenSource) Peek() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok
}
