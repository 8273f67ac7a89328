package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/revocation"
)

// revocationFeed is the gateway's revocation set and the follower that
// keeps it current.
type revocationFeed struct {
	follower *revocation.Follower
}

func (f *revocationFeed) set() *revocation.Set {
	if f == nil {
		return nil
	}
	return f.follower.Set
}

// openRevocations builds the gateway's revocation feed
// (gateway.revocations): from the store when the authorization server of
// the gateway's issuer runs in this process, else from its /revocations
// endpoint when a client is configured, else none (with a warning).
func openRevocations(cfg *config.Config, as *authzServer, wakeups *revocation.Wakeups, logger *slog.Logger) (*revocationFeed, error) {
	rc := cfg.Gateway.Revocations.Settings()
	if rc.Disabled {
		logger.Warn("gateway.revocations.disabled: revoked access tokens are accepted by the gateway until they expire")
		return nil, nil
	}
	var src revocation.Source
	switch {
	case as != nil && cfg.GatewayIssuer() == cfg.Issuer:
		src = revocation.Store{Log: as.st, MaxTokenLifetime: config.MaxAccessTokenTTL}
	case rc.ClientID != "":
		secret, err := os.ReadFile(rc.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("gateway.revocations.client_secret_file: %w", err)
		}
		if strings.TrimSpace(string(secret)) == "" {
			return nil, fmt.Errorf("gateway.revocations.client_secret_file: %s is empty", rc.ClientSecretFile)
		}
		src = &revocation.HTTP{URL: rc.FeedURL(cfg.GatewayIssuer()), ClientID: rc.ClientID, ClientSecret: strings.TrimSpace(string(secret))}
	default:
		logger.Warn("gateway.revocations.client_id is not set: revoked access tokens are accepted by the gateway until they expire (docs/GATEWAY.md, revocation feed)")
		return nil, nil
	}
	set := revocation.NewSet(revocation.SetOptions{
		MaxEntries: int(rc.MaxEntries), StaleAfter: rc.StaleAfter, ServeStale: rc.OnStale == "serve", Leeway: cfg.Gateway.Leeway,
	})
	return &revocationFeed{follower: &revocation.Follower{
		Source: src, Set: set, Interval: rc.Interval, CatchUp: config.MaxAccessTokenTTL, Logger: logger,
		Wake: wakeups.C(),
	}}, nil
}

// revocationNotifier is called by the authorization server's store after
// every revocation: it wakes this process's gateway feed and, with Redis,
// every other gateway's (a message with no content, published without
// blocking the request; a lost one costs one poll interval).
func revocationNotifier(rs *sharedRedis, wakeups *revocation.Wakeups, logger *slog.Logger) func() {
	return func() {
		wakeups.Wake()
		if rs == nil {
			return
		}
		go func() {
			if err := rs.replay.PublishRevocation(context.Background()); err != nil {
				logger.Warn("revocation: cannot wake the gateways through redis; they see it at their next poll", "err", err)
			}
		}()
	}
}

// catchUp syncs once before the gateway serves, so it does not start
// stale (refusing every token) when the feed is at hand; a feed that is
// not is retried by the follower, and /readyz says not ready meanwhile.
func (f *revocationFeed) catchUp(ctx context.Context, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.follower.Sync(ctx); err != nil {
		logger.Warn("revocation feed: first sync failed; until it succeeds the gateway refuses tokens, unless on_stale is serve", "err", err)
	}
}
