package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/httpsafe"
	"github.com/wardauth/ward/mtls"
	"github.com/wardauth/ward/ratelimit"
	"github.com/wardauth/ward/revocation"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/redisstore"
)

func init() {
	register(command{name: "serve", summary: "run the authorization server (and the gateway, when configured)", run: runServe})
}

// Listener limits: a slow or hostile client cannot hold a connection or
// send an unbounded header.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownGrace     = 15 * time.Second
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf configFlags
	fs := newFlagSet("serve", "serve (--config FILE | --dev [--data DIR])", stderr)
	cf.register(fs)
	jsonLogs := fs.Bool("log-json", false, "write logs as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	// WARD_CPUPROFILE=<file> writes a pprof CPU profile of the whole
	// process from here until shutdown (SIGINT/SIGTERM), for the load
	// tests in bench/ (`-cpuprofile`). Off unless set; not a config key
	// because it is a measuring aid, not a way to run the server.
	if path := os.Getenv("WARD_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return fmt.Errorf("WARD_CPUPROFILE: %w", err)
		}
		defer stop()
	}

	rs, err := openRedis(cfg.Redis, logger)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// The DPoP replay store and the rate-limit store shared by the
	// authorization server and the gateway: on Redis when configured
	// (every instance sees every proof and counts every request), else
	// the authorization server and the gateway each keep their own in
	// memory (one instance only).
	var replay dpop.ReplayStore
	var limits ratelimit.Store
	if rs != nil {
		defer rs.Close()
		replay, limits = rs.replay, rs.limits
		checkRedis(ctx, rs, cfg.Redis, logger)
	} else if cfg.Store.Driver == "postgres" || !cfg.AuthorizationServer.Enabled {
		logger.Warn("redis is not configured: DPoP proofs are remembered and rate limits counted per instance, so with several instances a proof can be replayed once at each and every limit is multiplied by their number; set redis.addr or " + config.EnvRedisURL + " (docs/DEPLOYMENT.md)")
	}

	// One metrics registry for the whole process: the authorization
	// server's, the gateway's and Redis's series are scraped together.
	reg := prometheus.NewRegistry()
	if rs != nil {
		registerRedisMetrics(reg, rs.replay)
	}
	// Revocations wake the gateway's feed at once: in process, and
	// through Redis between processes (revocations.go).
	wakeups := revocation.NewWakeups()
	var as *authzServer
	var creds *devCredentials
	if cfg.AuthorizationServer.Enabled {
		if as, creds, err = openAuthz(ctx, cfg, logger, replay, limits, reg, revocationNotifier(rs, wakeups, logger)); err != nil {
			return err
		}
		defer as.close()
	}

	if cfg.Dev {
		if err := requireLoopback(cfg.Listen); err != nil {
			return err
		}
		cfg.Gateway = gateway.DevConfig(cfg.Issuer)
		cfg.Gateway.BFF[0].ClientSecretFile = filepath.Join(cfg.DataDir, devBFFSecretFile)
	}
	// Listen on every address before serving any, so a taken port fails
	// the start instead of leaving half a system running.
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	var asLn net.Listener
	if as != nil {
		if asLn, err = net.Listen("tcp", cfg.Listen); err != nil {
			return err
		}
		// A flood of connections waits in the kernel's accept queue
		// instead of costing a goroutine and buffers each.
		asLn = netutil.LimitListener(asLn, int(cfg.Limits.MaxConnections))
		lns = append(lns, asLn)
	}
	// A separate listener for the mTLS endpoint aliases (RFC 8705 §5).
	var mtlsLn net.Listener
	if as != nil && as.mt != nil && cfg.MTLS.Listen != "" {
		if mtlsLn, err = net.Listen("tcp", cfg.MTLS.Listen); err != nil {
			closeAll()
			return fmt.Errorf("mtls: %w", err)
		}
		mtlsLn = netutil.LimitListener(mtlsLn, int(cfg.Limits.MaxConnections))
		lns = append(lns, mtlsLn)
	}
	var gw *gateway.Gateway
	var feed *revocationFeed // revocations.go; nil without a feed
	var gwLn, admLn, authLn net.Listener
	if cfg.Gateway.Enabled {
		mounts, err := openBFF(cfg, rs, logger, reg)
		if err != nil {
			closeAll()
			return err
		}
		if feed, err = openRevocations(cfg, as, wakeups, logger); err != nil {
			closeAll()
			return err
		}
		if gw, err = gateway.New(&cfg.Gateway, gateway.Options{Issuer: cfg.GatewayIssuer(), Logger: logger,
			ReplayStore: replay, RateLimitStore: limits, Registry: reg, Mounts: mounts, Revocations: feed.set()}); err != nil {
			closeAll()
			return fmt.Errorf("gateway: %w", err)
		}
		if gwLn, err = net.Listen("tcp", cfg.Gateway.Listen); err == nil {
			lns = append(lns, gwLn)
			if admLn, err = net.Listen("tcp", cfg.Gateway.AdminListen); err == nil {
				lns = append(lns, admLn)
			}
		}
		if err == nil && cfg.Gateway.Authorizer.Enabled() && cfg.Gateway.Authorizer.Listen != "" {
			if authLn, err = net.Listen("tcp", cfg.Gateway.Authorizer.Listen); err == nil {
				lns = append(lns, authLn)
			}
		}
		if err != nil {
			closeAll()
			return fmt.Errorf("gateway: %w", err)
		}
	}
	eaLn, eaSrv, err := listenExtAuthz(cfg, gw, logger)
	if err != nil {
		closeAll()
		return err
	}
	if eaLn != nil {
		lns = append(lns, eaLn)
	}
	// Without a gateway (whose admin listener serves them), the
	// authorization server's metrics and health go on admin_listen.
	var asAdmLn net.Listener
	if as != nil && gw == nil && cfg.AdminListen != "" {
		if asAdmLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			closeAll()
			return fmt.Errorf("admin: %w", err)
		}
	}

	if cfg.Dev {
		fmt.Fprintf(stdout, "ward: DEV MODE — listening on loopback only; not for production.\n")
		printDevCredentials(stdout, cfg, creds)
	}
	if as != nil {
		fmt.Fprintf(stdout, "ward: authorization server %s (listening on %s)\n", cfg.Issuer, cfg.Listen)
		fmt.Fprintf(stdout, "ward:   metadata %s/.well-known/oauth-authorization-server\n", cfg.Issuer)
	} else {
		fmt.Fprintf(stdout, "ward: authorization server off (authorization_server.enabled: false); tokens of %s are checked\n", strings.Join(gatewayIssuers(cfg), ", "))
	}
	if gw != nil {
		fmt.Fprintf(stdout, "ward: gateway %s (listening on %s), admin (metrics, health) on http://%s\n", cfg.Gateway.PublicURL, cfg.Gateway.Listen, cfg.Gateway.AdminListen)
		if cfg.Dev {
			fmt.Fprintf(stdout, "ward:   demo API %s/demo/whoami (DPoP-bound token required), %s/demo/public (open)\n", cfg.Gateway.PublicURL, cfg.Gateway.PublicURL)
			fmt.Fprintf(stdout, "ward:   demo browser app %s (log in as the demo user; tokens stay in the gateway's BFF)\n", devAppURL)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				select {
				case errc <- fmt.Errorf("%s: %w", name, err):
				default: // the first error already stops the process
				}
			}
		}()
	}
	if as != nil {
		start("background work", func() error { return as.Run(ctx) })
		hs := newServer(cfg.Listen, httpsafe.CloseAfterChunked(as.Handler()), cfg.TLS, logger)
		if as.mt != nil {
			start("mtls reload", func() error { as.mt.Watch(ctx, cfg.MTLS.Interval()); return nil })
			if cfg.MTLS.Listen == "" {
				// Client certificates on the main listener; the
				// snapshot's certificate wins over the files.
				hs.TLSConfig = as.mt.TLSConfig()
			}
		}
		start("authorization server", func() error { return serveHTTP(ctx, hs, asLn, cfg.TLS) })
		if mtlsLn != nil {
			ms := newServer(cfg.MTLS.Listen, httpsafe.CloseAfterChunked(as.Handler()), cfg.TLS, logger)
			ms.TLSConfig = as.mt.TLSConfig()
			fmt.Fprintf(stdout, "ward: mTLS endpoints %s (listening on %s)\n", cfg.MTLS.EndpointBaseURL, cfg.MTLS.Listen)
			start("mtls endpoints", func() error { return serveHTTP(ctx, ms, mtlsLn, cfg.TLS) })
		}
	}
	if asAdmLn != nil {
		fmt.Fprintf(stdout, "ward: admin (metrics, health) on http://%s\n", cfg.AdminListen)
		start("admin", func() error {
			return serveHTTP(ctx, &http.Server{Handler: adminMux(as), ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}, asAdmLn, config.TLS{})
		})
	}
	if gw != nil {
		if feed != nil {
			feed.catchUp(ctx, logger)
			start("revocation feed", func() error { return feed.follower.Run(ctx) })
			if rs != nil {
				start("revocation wake-ups", func() error { rs.replay.RevocationWakeups(ctx, wakeups.Wake); return nil })
			}
		}
		start("gateway", func() error { return gw.Serve(ctx, gwLn, admLn) })
		if authLn != nil {
			fmt.Fprintf(stdout, "ward: gateway forward-auth endpoint on http://%s%s\n", cfg.Gateway.Authorizer.Listen, cfg.Gateway.Authorizer.PathOrDefault())
			start("gateway authorizer", func() error { return gw.ServeAuthorizer(ctx, authLn) })
		}
		if cfg.File() != "" {
			go gw.WatchReload(ctx, gateway.FileLoader(cfg.File()), 2*time.Second, cfg.File())
		}
	}
	if eaSrv != nil {
		fmt.Fprintf(stdout, "ward: Envoy ext_authz (gRPC envoy.service.auth.v3.Authorization) on %s\n", eaLn.Addr())
		start("ext_authz", func() error { return extauthz.Serve(ctx, eaSrv, eaLn, cfg.Gateway.Timeouts.Shutdown) })
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining in-flight requests")
	case runErr = <-errc:
		logger.Error("stopping", "err", runErr)
	}
	cancel()
	wg.Wait()
	return runErr
}

// openAuthz opens the store and the signing keys and builds the
// authorization server; close releases the store.
func openAuthz(ctx context.Context, cfg *config.Config, logger *slog.Logger, replay dpop.ReplayStore, limits ratelimit.Store, reg *prometheus.Registry, revoked func()) (*authzServer, *devCredentials, error) {
	// Before the store is opened: a PostgreSQL-backed start without the
	// shared flow key is refused without touching the database.
	fk, err := flowKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	fail := func(err error) (*authzServer, *devCredentials, error) {
		st.Close()
		return nil, nil, err
	}
	km, err := openKeys(cfg, st)
	if err != nil {
		return fail(err)
	}
	if err := km.EnsureKey(ctx, now()); err != nil {
		return fail(fmt.Errorf("signing keys: %w", err))
	}
	if err := authz.SyncStatic(ctx, st, cfg, now()); err != nil {
		return fail(err)
	}
	var creds *devCredentials
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
	srv, err := authz.New(cfg, authz.Options{Store: revocation.Watch(st, revoked), Keys: km, Logger: logger, FlowKey: fk, Replay: replay,
		RateLimitStore: limits, KeysInterval: cfg.Keys.RefreshInterval, Registry: reg, MTLS: certProxy})
	if err != nil {
		return fail(err)
	}
	return &authzServer{Server: srv, mt: mt, st: st, close: func() { st.Close() }}, creds, nil
}

// adminMux serves the authorization server's metrics and health on the
// admin listener of a process without a gateway.
func adminMux(as *authzServer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", as.MetricsHandler())
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	return mux
}

// authzServer is the authorization server with its store's release.
type authzServer struct {
	*authz.Server
	mt    *mtls.ServerConfig // nil without mTLS
	st    store.Store        // the revocation feed's source in process
	close func()
}

// newServer builds an http.Server with Ward's limits; with a certificate it
// serves TLS 1.3 only.
func newServer(addr string, h http.Handler, t config.TLS, logger *slog.Logger) *http.Server {
	s := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if t.Enabled() {
		s.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	return s
}

// serveHTTP serves s on ln until ctx ends, then drains in-flight requests
// for up to shutdownGrace.
func serveHTTP(ctx context.Context, s *http.Server, ln net.Listener, t config.TLS) error {
	errc := make(chan error, 1)
	go func() {
		if t.Enabled() {
			errc <- s.ServeTLS(ln, t.CertFile, t.KeyFile)
		} else {
			errc <- s.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return s.Shutdown(sctx)
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dev mode listens on loopback only; %q is not a loopback address", addr)
	}
	return nil
}

// envFlowKey names the environment variable holding the flow key.
const envFlowKey = "WARD_FLOW_KEY"

// errNoFlowKey refuses a PostgreSQL-backed start without a shared flow
// key: a key drawn at random per process would make every login that
// crosses instances behind a load balancer fail.
var errNoFlowKey = errors.New(envFlowKey + " is required with store.driver postgres: every instance must seal login flows with the same key " +
	"(generate one with `openssl rand -base64 32` and give it to every instance; docs/SCALEOUT.md)")

// flowKey returns the key that seals authorization-flow state. In dev mode
// it is kept in the data folder so a restart does not break flows in
// progress; otherwise WARD_FLOW_KEY (base64, 32 bytes) is used when set,
// and a random key (one instance only) when not. A PostgreSQL store means
// several instances may share the work, so there the variable is
// required.
func flowKey(cfg *config.Config) ([]byte, error) {
	if v := os.Getenv(envFlowKey); v != "" {
		k, err := decodeKey32(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envFlowKey, err)
		}
		return k, nil
	}
	if cfg.Store.Driver == "postgres" {
		return nil, errNoFlowKey
	}
	if cfg.Dev {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		return ensureSecretFile(filepath.Join(cfg.DataDir, "flow-key"))
	}
	return nil, nil
}

// redisStartTimeout bounds the ping at start.
const redisStartTimeout = 2 * time.Second

// checkRedis pings Redis once at start and logs the outcome. An
// unreachable Redis does not stop the start: requests that need a replay
// check are refused with 503 (fail closed) or accepted unchecked
// (fail_open) until it answers, and /metrics shows it.
func checkRedis(ctx context.Context, rs *sharedRedis, r config.Redis, logger *slog.Logger) {
	mode := "fail closed: requests needing a replay check get 503 while Redis is unreachable"
	if r.FailOpen {
		mode = "FAIL OPEN: proofs are accepted without a replay check while Redis is unreachable"
	}
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	if err := rs.Ping(ctx); err != nil {
		logger.Error("redis unreachable at start; DPoP replay checks cannot be made until it answers", "addr", r.Addr, "err", err, "mode", mode)
		return
	}
	logger.Info("redis: DPoP replay checks and rate limits shared by every instance", "addr", r.Addr, "db", int(r.DB), "tls", r.TLS.Enabled, "mode", mode)
}

// registerRedisMetrics exports the Redis replay store's health on the
// gateway's admin listener (/metrics).
func registerRedisMetrics(reg *prometheus.Registry, rs *redisstore.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "redis", Name: "errors_total",
			Help: "Replay checks (DPoP proofs) that could not reach Redis.",
		}, func() float64 { return float64(rs.Stats().Errors) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ward", Subsystem: "redis", Name: "accepted_unchecked_total",
			Help: "Proofs accepted without a replay check because Redis was unreachable (redis.fail_open only).",
		}, func() float64 { return float64(rs.Stats().AcceptedUnchecked) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ward", Subsystem: "redis", Name: "up",
			Help: "1 when Redis answered a PING at the last scrape, else 0.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if rs.Ping(ctx) != nil {
				return 0
			}
			return 1
		}),
	)
}

// startCPUProfile starts a CPU profile written to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// gatewayIssuers lists the issuers whose tokens the gateway checks:
// gateway.issuers, or the one-issuer shorthand.
func gatewayIssuers(cfg *config.Config) []string {
	if len(cfg.Gateway.Issuers) == 0 {
		return []string{cfg.GatewayIssuer()}
	}
	var out []string
	for _, is := range cfg.Gateway.Issuers {
		out = append(out, is.Issuer)
	}
	return out
}

// listenExtAuthz opens gateway.ext_authz's listener (only trusted peers'
// connections are served) and builds its gRPC server; nil, nil without
// it.
func listenExtAuthz(cfg *config.Config, gw *gateway.Gateway, logger *slog.Logger) (net.Listener, *grpc.Server, error) {
	ea := &cfg.Gateway.ExtAuthz
	if gw == nil || !ea.Enabled() {
		return nil, nil, nil
	}
	srv := extauthz.New(extauthz.DeciderFunc(gw.DecideAndRecord), extauthz.Options{MaxHeaderBytes: int(cfg.Gateway.Limits.MaxHeaderBytes), Logger: logger})
	gs, err := extauthz.NewGRPCServer(srv, ea)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", ea.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway.ext_authz: %w", err)
	}
	ln = netutil.LimitListener(ln, int(cfg.Gateway.Limits.MaxConnections))
	return extauthz.TrustedListener(ln, ea.Peers(), logger), gs, nil
}
