package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// revocationsChannel is the pub/sub channel (under the prefix) on which
// authorization servers tell gateways to poll the revocation feed now
// (package revocation). Messages carry nothing: the feed itself is read
// from the authorization server, so a lost message only delays a
// revocation to the gateway's next regular poll.
const revocationsChannel = "revocations"

// PublishRevocation tells the subscribed gateways that something was
// revoked. It waits at most the store's budget.
func (s *Store) PublishRevocation(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.budget)
	defer cancel()
	if err := s.c.Publish(ctx, s.prefix+revocationsChannel, "1").Err(); err != nil {
		return fmt.Errorf("%w: publish revocation: %w", ErrUnavailable, err)
	}
	return nil
}

// RevocationWakeups subscribes to the revocations channel and calls wake
// for every message until ctx is done. The client reconnects and
// resubscribes by itself after an outage; messages sent meanwhile are
// lost (the gateway's regular poll covers them).
func (s *Store) RevocationWakeups(ctx context.Context, wake func()) {
	ps := s.c.Subscribe(ctx, s.prefix+revocationsChannel)
	defer ps.Close()
	ch := ps.Channel(redis.WithChannelHealthCheckInterval(30 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			wake()
		}
	}
}
