package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Deployment says which Redis deployment NewClient connects to. Exactly
// one of Config.Addr, SentinelMaster and ClusterAddrs is set.
type Deployment struct {
	// SentinelMaster and SentinelAddrs: the master monitored under that
	// name by the sentinels at SentinelAddrs (a failover client: it asks
	// the sentinels for the master and follows a failover).
	SentinelMaster   string
	SentinelAddrs    []string
	SentinelUsername string
	SentinelPassword string
	// ClusterAddrs: seed nodes of a Redis Cluster.
	ClusterAddrs []string
}

// NewClient returns a client for cfg and d with the bounds of Options
// (timeouts, one dial, one quick retry, context deadlines on the socket)
// whatever the deployment: a *redis.Client for one server, a failover
// client for Sentinel, a *redis.ClusterClient for Cluster. Every Redis
// user in Ward takes a redis.UniversalClient, so any of them does.
//
// With TLS and no ServerName, each connection verifies the host it
// dials (crypto/tls takes it from the address), so the nodes a sentinel
// or a cluster names are checked against their own names.
func NewClient(cfg Config, d Deployment) redis.UniversalClient {
	o := Options(cfg)
	switch {
	case d.SentinelMaster != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: d.SentinelMaster, SentinelAddrs: d.SentinelAddrs,
			SentinelUsername: d.SentinelUsername, SentinelPassword: d.SentinelPassword,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
			PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
			MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
			ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		})
	case len(d.ClusterAddrs) > 0:
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    d.ClusterAddrs,
			Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
			DialerRetries: o.DialerRetries, DialerRetryTimeout: o.DialerRetryTimeout,
			PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
			MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
			ContextTimeoutEnabled:      o.ContextTimeoutEnabled,
			ClusterStateReloadInterval: ClusterReloadInterval,
		})
		cc.AddHook(reloadOnError{cc})
		return cc
	}
	return redis.NewClient(o)
}

// ClusterReloadInterval is how often a cluster client reads the slot map
// (CLUSTER SLOTS) even when nothing failed.
const ClusterReloadInterval = 5 * time.Second

// reloadOnError makes a cluster client read the slot map again after a
// command or pipeline fails for another reason than a Redis error reply.
// go-redis follows MOVED by itself, but when a master dies its
// connections are refused, and without this the client would keep
// dialling it until the next periodic reload: after a failover the
// promoted replica would serve nobody for up to a minute (go-redis's
// default interval). Reloads are asynchronous and coalesced by go-redis.
type reloadOnError struct{ cc *redis.ClusterClient }

func (h reloadOnError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h reloadOnError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

func (h reloadOnError) check(err error) {
	var re redis.Error
	if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &re) {
		h.cc.ReloadState(context.Background())
	}
}
