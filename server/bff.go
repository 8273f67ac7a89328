package server

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/store/redisstore"
)

// openBFF builds the gateway's backend-for-frontend sites
// (gateway.bff) as mounts: each reads its client secret and, with the
// redis session store, its sealing key, from their files.
func openBFF(cfg *config.Config, rs *sharedRedis, logger *slog.Logger, reg prometheus.Registerer) ([]gateway.Mount, error) {
	var mounts []gateway.Mount
	for i, b := range cfg.Gateway.BFF {
		b = b.WithDefaults()
		where := fmt.Sprintf("gateway.bff[%d] (%s)", i, b.Name)
		secret, err := os.ReadFile(b.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("%s.client_secret_file: %w", where, err)
		}
		opts := bff.Options{
			Issuer: cfg.GatewayIssuer(), ClientSecret: strings.TrimSpace(string(secret)),
			Logger: logger, Registry: reg, MaxBodyBytes: int64(cfg.Gateway.Limits.MaxBodyBytes),
			UpstreamTimeout: cfg.Gateway.Timeouts.Upstream,
		}
		if opts.ClientSecret == "" {
			return nil, fmt.Errorf("%s.client_secret_file: %s is empty", where, b.ClientSecretFile)
		}
		if b.Session.KeyFile != "" {
			k, err := os.ReadFile(b.Session.KeyFile)
			if err == nil {
				opts.SessionKey, err = decodeKey32(strings.TrimSpace(string(k)))
			}
			if err != nil {
				return nil, fmt.Errorf("%s.session.key_file: %w (make one with: head -c 32 /dev/urandom | base64)", where, err)
			}
		}
		if b.Session.Store == "redis" {
			if rs == nil {
				return nil, fmt.Errorf("%s.session.store: redis needs the redis section", where)
			}
			prefix := cfg.Redis.KeyPrefix
			if prefix == "" {
				prefix = redisstore.DefaultPrefix
			}
			opts.Store = bff.NewRedisStore(rs.client, prefix+"bff:"+b.Name+":").WithTimeout(rs.budget)
		}
		site, err := bff.New(b, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		mounts = append(mounts, gateway.Mount{Name: "bff-" + b.Name, Host: site.Host(), PathPrefix: site.Prefix(), Handler: site})
	}
	return mounts, nil
}
