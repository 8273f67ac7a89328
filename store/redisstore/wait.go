package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrReplicas is wrapped (with ErrUnavailable) when fewer replicas than
// Config.MinReplicas acknowledged a write within the wait timeout.
var ErrReplicas = errors.New("redisstore: too few replicas acknowledged the write")

// claimWait is claim followed by WAIT on the same connection (one
// pipeline to the key's master), so that WAIT counts the replicas that
// hold this write. A write that too few replicas acknowledged has still
// been made on the master; the call fails all the same (closed), since
// a failover could forget it.
func (s *Store) claimWait(ctx context.Context, key, tok, unit string, at int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.budget+s.wait)
	defer cancel()
	node, err := s.master(ctx, key)
	if err != nil {
		return false, err
	}
	var run *redis.Cmd
	var wait *redis.IntCmd
	_, err = node.Pipelined(ctx, func(p redis.Pipeliner) error {
		run = claimScript.Eval(ctx, p, []string{key}, tok, unit, at)
		wait = redis.NewIntCmd(ctx, "wait", s.replicas, s.wait.Milliseconds())
		_ = p.Process(ctx, wait)
		return nil
	})
	if err != nil {
		if cc, ok := s.c.(*redis.ClusterClient); ok {
			cc.ReloadState(ctx) // the slot may have moved in a failover
		}
		return false, err
	}
	n, err := run.Int()
	if err != nil {
		return false, err
	}
	if n != 1 {
		return false, nil
	}
	if got := wait.Val(); got < int64(s.replicas) {
		return false, fmt.Errorf("%w: %d of %d", ErrReplicas, got, s.replicas)
	}
	return true, nil
}

// master returns the client of the server that holds key's master copy:
// the key's slot master under Cluster, the client itself otherwise (a
// single server, or the master a failover client follows).
func (s *Store) master(ctx context.Context, key string) (*redis.Client, error) {
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("redisstore: MinReplicas needs a *redis.Client or *redis.ClusterClient, not %T", s.c)
}
