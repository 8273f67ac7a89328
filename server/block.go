package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/store/redisstore"
)

// openBlocks builds the process's Blocker (events.responses.block), shared
// by the authorization server and the gateway: on Redis when configured,
// so every instance sees every block, else in memory. Nil when blocking
// is off.
func openBlocks(cfg *config.Config, rs *sharedRedis, events *securityEvents, logger *slog.Logger, reg prometheus.Registerer) (*block.Blocker, error) {
	b := cfg.Events.Responses.Block
	if !b.Enabled || (!b.Address.Enabled && !b.Key.Enabled) {
		return nil, nil
	}
	var st block.Store
	if rs != nil {
		st = blockStore(rs.client, cfg.Redis, rs.budget)
	}
	c := block.Config{Address: blockPolicy(b.Address), Key: blockPolicy(b.Key)}
	for _, p := range b.Allow {
		c.Allow = append(c.Allow, p.Prefix)
	}
	blk, err := block.New(block.Options{Store: st, Config: c, Events: events.emitter(), Logger: logger, Registry: reg})
	if err != nil {
		return nil, fmt.Errorf("events.responses.block: %w", err)
	}
	return blk, nil
}

func blockPolicy(p config.BlockPolicy) block.Policy {
	if !p.Enabled {
		return block.Policy{}
	}
	return block.Policy{Threshold: int(p.Threshold), Window: p.Window, Period: p.Period, MaxPeriod: p.MaxPeriod}
}

// blockStore is the block store on Redis: keys under <key_prefix>block:,
// apart from the replay and rate-limit keys.
func blockStore(c redis.UniversalClient, r config.Redis, budget time.Duration) *block.RedisStore {
	prefix := r.KeyPrefix
	if prefix == "" {
		prefix = redisstore.DefaultPrefix
	}
	return block.NewRedisStore(c, block.RedisConfig{Prefix: prefix + "block:", Timeout: budget})
}

// ErrBlocksInMemory is OpenBlockStore's answer without a redis section.
var ErrBlocksInMemory = errors.New("blocks are kept in the memory of the running ward serve (no redis section): " +
	"no other process can list or lift them; they expire by themselves (at most events.responses.block.*.max_period), " +
	"a restart forgets them, and the admin console lists and lifts them in process")

// OpenBlockStore opens the block store of cfg's Redis for `ward blocks`,
// with the client settings of ward serve; close it with the returned
// function. Without a redis section it returns ErrBlocksInMemory.
func OpenBlockStore(cfg *config.Config, logger *slog.Logger) (*block.RedisStore, func(), error) {
	rs, err := openRedis(cfg.Redis, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	if rs == nil {
		return nil, nil, ErrBlocksInMemory
	}
	return blockStore(rs.client, cfg.Redis, rs.budget), func() { rs.Close() }, nil
}

// Blocks is the process's blocks for an admin (the admin console): list
// and lift, each lift an event. Nil when blocking is off.
func (s *Server) Blocks() block.Admin {
	if s.p.blocks == nil {
		return nil
	}
	return s.p.blocks
}
