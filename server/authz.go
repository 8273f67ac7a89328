package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/block"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/internal/promring"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
)

// openAuthz opens the store and the signing keys and builds the
// authorization server; close releases the store.
func openAuthz(ctx context.Context, cfg *config.Config, logger *slog.Logger, replay dpop.ReplayStore, limits ratelimit.Store, reg *prometheus.Registry, revoked func(), tr *tracing, events *securityEvents, blocks *block.Blocker) (*authzServer, *DevCredentials, error) {
	// Before the store is opened: a PostgreSQL-backed start without the
	// shared flow key is refused without touching the database.
	fk, err := flowKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := devPairwiseSalt(cfg); err != nil {
		return nil, nil, err
	}
	// OIDC Core §8.1: the file's clients are registered at every start,
	// so their sector identifier documents are checked now, fail closed.
	if err := authz.CheckStaticSectors(ctx, nil, cfg); err != nil {
		return nil, nil, err
	}
	st, err := OpenStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	fail := func(err error) (*authzServer, *DevCredentials, error) {
		st.Close()
		return nil, nil, err
	}
	km, err := OpenKeys(cfg, st)
	if err != nil {
		return fail(err)
	}
	if err := km.EnsureKey(ctx, now()); err != nil {
		return fail(fmt.Errorf("signing keys: %w", err))
	}
	if err := authz.SyncStatic(ctx, st, cfg, now()); err != nil {
		return fail(err)
	}
	var creds *DevCredentials
	if cfg.Dev {
		if creds, err = devBootstrap(ctx, cfg, st); err != nil {
			return fail(fmt.Errorf("dev mode: %w", err))
		}
	}
	// RFC 8705: client certificates from the TLS handshake (reloading TLS
	// 1.3 config) or from a trusted TLS-terminating proxy; nil when off.
	mt, certProxy, err := authz.NewMTLS(cfg, logger)
	if err != nil {
		return fail(err)
	}
	watched := revocation.Watch(st, revoked)
	events.useStore(cfg, st, watched, logger) // events.go
	srv, err := authz.New(cfg, authz.Options{Store: tr.store(watched), Keys: km, Logger: logger, FlowKey: fk, Replay: replay,
		RateLimitStore: limits, KeysInterval: cfg.Keys.RefreshInterval, Registry: reg, MTLS: certProxy, Events: events.emitter(), Blocks: blocks,
		AssertionJTIsInStore: cfg.Store.Driver == "postgres" && !cfg.Redis.Enabled()})
	if err != nil {
		return fail(err)
	}
	// Pairwise clients need the salt and a sector (authz/subject.go).
	if err := srv.CheckSubjectTypes(ctx); err != nil {
		return fail(err)
	}
	return &authzServer{Server: srv, mt: mt, st: st, km: km, served: tr.store(watched), close: func() { st.Close() }, tr: tr}, creds, nil
}

// devPairwiseSalt creates dev mode's pairwise salt file
// (<data_dir>/pairwise-salt) when absent.
func devPairwiseSalt(cfg *config.Config) error {
	if !cfg.Dev || cfg.OIDC.PairwiseSalt != "" || cfg.OIDC.PairwiseSaltFile == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.OIDC.PairwiseSaltFile), 0o700); err != nil {
		return err
	}
	if _, err := ensureSecretFile(cfg.OIDC.PairwiseSaltFile); err != nil {
		return fmt.Errorf("dev mode: pairwise salt: %w", err)
	}
	return nil
}

// authzServer is the authorization server with its store's release.
type authzServer struct {
	*authz.Server
	mt *mtls.ServerConfig // nil without mTLS
	st store.Store        // the revocation feed's source in process
	// served is the store the server uses (st, watched by the revocation
	// feed, traced), and km its signing keys: the admin console's.
	served store.Store
	km     *keys.Manager
	close  func()
	tr     *tracing // nil when off
	// traffic samples the counters for the console's security overview
	// (console_traffic.go); nil without the console.
	traffic *promring.Ring
}

// handler is the authorization server's handler, in a span per request
// when tracing is on.
func (a *authzServer) handler() http.Handler { return a.tr.wrap("authz", a.Handler()) }

// EnvFlowKey names the environment variable holding the flow key.
const EnvFlowKey = "WARD_FLOW_KEY"

// ErrNoFlowKey refuses a PostgreSQL-backed start without a shared flow
// key: a key drawn at random per process would make every login that
// crosses instances behind a load balancer fail.
var ErrNoFlowKey = errors.New(EnvFlowKey + " is required with store.driver postgres: every instance must seal login flows with the same key " +
	"(generate one with `openssl rand -base64 32` and give it to every instance; docs/SCALEOUT.md)")

// flowKey returns the key that seals authorization-flow state. In dev mode
// it is kept in the data folder so a restart does not break flows in
// progress; otherwise WARD_FLOW_KEY (base64, 32 bytes) is used when set,
// and a random key (one instance only) when not. A PostgreSQL store means
// several instances may share the work, so there the variable is
// required.
func flowKey(cfg *config.Config) ([]byte, error) {
	if v := os.Getenv(EnvFlowKey); v != "" {
		k, err := decodeKey32(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvFlowKey, err)
		}
		return k, nil
	}
	if cfg.Store.Driver == "postgres" {
		return nil, ErrNoFlowKey
	}
	if cfg.Dev {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		return ensureSecretFile(filepath.Join(cfg.DataDir, "flow-key"))
	}
	return nil, nil
}
