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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/demo"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/internal/graceful"
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
	cfg, logger, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
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
	p, err := openProcess(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer p.close()
	l, err := openListeners(cfg, p, logger)
	if err != nil {
		return err
	}
	printBanner(stdout, cfg, p, l)
	return serveProcess(ctx, cfg, p, l, logger)
}

// parseServe parses serve's flags, loads the configuration and builds
// the logger.
func parseServe(args []string, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	var cf configFlags
	fs := newFlagSet("serve", "serve (--config FILE | --dev [--data DIR])", stderr)
	cf.register(fs)
	jsonLogs := fs.Bool("log-json", false, "write logs as JSON")
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	cfg, err := cf.load()
	if err != nil {
		return nil, nil, err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	return cfg, slog.New(handler), nil
}

// process is what one ward process runs: the shared Redis, the
// authorization server and the gateway (each nil when off).
type process struct {
	rs      *sharedRedis
	as      *authzServer
	creds   *devCredentials // dev mode only
	gw      *gateway.Gateway
	feed    *revocationFeed // revocations.go; nil without a feed
	wakeups *revocation.Wakeups
}

// close releases the store and the Redis client.
func (p *process) close() {
	if p.as != nil {
		p.as.close()
	}
	if p.rs != nil {
		p.rs.Close()
	}
}

// openProcess opens Redis, the authorization server and the gateway, in
// that order; on failure what was opened is released.
func openProcess(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*process, error) {
	rs, err := openRedis(cfg.Redis, logger)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	// Revocations wake the gateway's feed at once: in process, and
	// through Redis between processes (revocations.go).
	p := &process{rs: rs, wakeups: revocation.NewWakeups()}
	if err := p.open(ctx, cfg, logger); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *process) open(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	// The DPoP replay store and the rate-limit store shared by the
	// authorization server and the gateway: on Redis when configured
	// (every instance sees every proof and counts every request), else
	// the authorization server and the gateway each keep their own in
	// memory (one instance only).
	var replay dpop.ReplayStore
	var limits ratelimit.Store
	if p.rs != nil {
		replay, limits = p.rs.replay, p.rs.limits
		checkRedis(ctx, p.rs, cfg.Redis, logger)
	} else if cfg.Store.Driver == "postgres" || !cfg.AuthorizationServer.Enabled {
		logger.Warn("redis is not configured: DPoP proofs are remembered and rate limits counted per instance, so with several instances a proof can be replayed once at each and every limit is multiplied by their number; set redis.addr or " + config.EnvRedisURL + " (docs/DEPLOYMENT.md)")
	}
	// One metrics registry for the whole process: the authorization
	// server's, the gateway's and Redis's series are scraped together.
	reg := prometheus.NewRegistry()
	if p.rs != nil {
		registerRedisMetrics(reg, p.rs.replay)
	}
	var err error
	if cfg.AuthorizationServer.Enabled {
		if p.as, p.creds, err = openAuthz(ctx, cfg, logger, replay, limits, reg, revocationNotifier(p.rs, p.wakeups, logger)); err != nil {
			return err
		}
	}
	if cfg.Dev {
		if err := requireLoopback(cfg.Listen); err != nil {
			return err
		}
		cfg.Gateway = demo.DevConfig(cfg.Issuer)
		cfg.Gateway.BFF[0].ClientSecretFile = filepath.Join(cfg.DataDir, devBFFSecretFile)
	}
	if !cfg.Gateway.Enabled {
		return nil
	}
	mounts, err := openBFF(cfg, p.rs, logger, reg)
	if err != nil {
		return err
	}
	if p.feed, err = openRevocations(cfg, p.as, p.wakeups, logger); err != nil {
		return err
	}
	if p.gw, err = gateway.New(&cfg.Gateway, gateway.Options{Issuer: cfg.GatewayIssuer(), Logger: logger,
		ReplayStore: replay, RateLimitStore: limits, Registry: reg, Mounts: mounts, Revocations: p.feed.set(),
		Upstreams: demo.Builtins()}); err != nil { // config accepts builtin:demo in any mode
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// listeners holds every address the process listens on (nil when off).
type listeners struct {
	as, mtls, asAdmin       net.Listener // authorization server, mTLS aliases, its admin without a gateway
	gw, gwAdmin, authorizer net.Listener // gateway, its admin, forward-auth
	extAuthz                net.Listener
	extAuthzSrv             *grpc.Server
	all                     []net.Listener
}

func (l *listeners) closeAll() {
	for _, ln := range l.all {
		ln.Close()
	}
}

// listen listens on addr, at most maxConns connections at once when
// maxConns > 0, and wraps an error with what.
func (l *listeners) listen(what, addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if what != "" {
			err = fmt.Errorf("%s: %w", what, err)
		}
		return nil, err
	}
	if maxConns > 0 {
		// A flood of connections waits in the kernel's accept queue
		// instead of costing a goroutine and buffers each.
		ln = netutil.LimitListener(ln, maxConns)
	}
	l.all = append(l.all, ln)
	return ln, nil
}

// openListeners listens on every address before serving any, so a taken
// port fails the start instead of leaving half a system running.
func openListeners(cfg *config.Config, p *process, logger *slog.Logger) (*listeners, error) {
	l := &listeners{}
	if err := l.open(cfg, p, logger); err != nil {
		l.closeAll()
		return nil, err
	}
	return l, nil
}

func (l *listeners) open(cfg *config.Config, p *process, logger *slog.Logger) (err error) {
	maxConns := int(cfg.Limits.MaxConnections)
	if p.as != nil {
		if l.as, err = l.listen("", cfg.Listen, maxConns); err != nil {
			return err
		}
		// A separate listener for the mTLS endpoint aliases (RFC 8705 §5).
		if p.as.mt != nil && cfg.MTLS.Listen != "" {
			if l.mtls, err = l.listen("mtls", cfg.MTLS.Listen, maxConns); err != nil {
				return err
			}
		}
	}
	if p.gw != nil {
		// gateway.Serve and ServeAuthorizer limit their own connections.
		if l.gw, err = l.listen("gateway", cfg.Gateway.Listen, 0); err != nil {
			return err
		}
		if l.gwAdmin, err = l.listen("gateway", cfg.Gateway.AdminListen, 0); err != nil {
			return err
		}
		if a := cfg.Gateway.Authorizer; a.Enabled() && a.Listen != "" {
			if l.authorizer, err = l.listen("gateway", a.Listen, 0); err != nil {
				return err
			}
		}
	}
	if l.extAuthz, l.extAuthzSrv, err = listenExtAuthz(cfg, p.gw, logger); err != nil {
		return err
	}
	if l.extAuthz != nil {
		l.all = append(l.all, l.extAuthz)
	}
	// Without a gateway (whose admin listener serves them), the
	// authorization server's metrics and health go on admin_listen.
	if p.as != nil && p.gw == nil && cfg.AdminListen != "" {
		if l.asAdmin, err = l.listen("admin", cfg.AdminListen, 0); err != nil {
			return err
		}
	}
	return nil
}

// printBanner says what the process serves, and where.
func printBanner(w io.Writer, cfg *config.Config, p *process, l *listeners) {
	if cfg.Dev {
		fmt.Fprintf(w, "ward: DEV MODE — listening on loopback only; not for production.\n")
		printDevCredentials(w, cfg, p.creds)
	}
	if p.as != nil {
		fmt.Fprintf(w, "ward: authorization server %s (listening on %s)\n", cfg.Issuer, cfg.Listen)
		fmt.Fprintf(w, "ward:   metadata %s/.well-known/oauth-authorization-server\n", cfg.Issuer)
	} else {
		fmt.Fprintf(w, "ward: authorization server off (authorization_server.enabled: false); tokens of %s are checked\n", strings.Join(gatewayIssuers(cfg), ", "))
	}
	if p.gw != nil {
		fmt.Fprintf(w, "ward: gateway %s (listening on %s), admin (metrics, health) on http://%s\n", cfg.Gateway.PublicURL, cfg.Gateway.Listen, cfg.Gateway.AdminListen)
		if cfg.Dev {
			fmt.Fprintf(w, "ward:   demo API %s/demo/whoami (DPoP-bound token required), %s/demo/public (open)\n", cfg.Gateway.PublicURL, cfg.Gateway.PublicURL)
			fmt.Fprintf(w, "ward:   demo browser app %s (log in as the demo user; tokens stay in the gateway's BFF)\n", devAppURL)
		}
	}
	if l.mtls != nil {
		fmt.Fprintf(w, "ward: mTLS endpoints %s (listening on %s)\n", cfg.MTLS.EndpointBaseURL, cfg.MTLS.Listen)
	}
	if l.asAdmin != nil {
		fmt.Fprintf(w, "ward: admin (metrics, health) on http://%s\n", cfg.AdminListen)
	}
	if l.authorizer != nil {
		fmt.Fprintf(w, "ward: gateway forward-auth endpoint on http://%s%s\n", cfg.Gateway.Authorizer.Listen, cfg.Gateway.Authorizer.PathOrDefault())
	}
	if l.extAuthzSrv != nil {
		fmt.Fprintf(w, "ward: Envoy ext_authz (gRPC envoy.service.auth.v3.Authorization) on %s\n", l.extAuthz.Addr())
	}
}

// starter runs a named task of the process in its errgroup.
type starter func(name string, task func(context.Context) error)

// tasks is the errgroup of a process: the first task to fail cancels the
// others' context.
type tasks struct {
	ctx    context.Context // the caller's: cancelled to ask for a shutdown
	gctx   context.Context // the tasks': also cancelled by the first failure
	eg     *errgroup.Group
	logger *slog.Logger
}

func newTasks(ctx context.Context, logger *slog.Logger) *tasks {
	eg, gctx := errgroup.WithContext(ctx)
	t := &tasks{ctx: ctx, gctx: gctx, eg: eg, logger: logger}
	eg.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			logger.Info("shutting down: draining in-flight requests")
		} else {
			logger.Error("stopping", "err", context.Cause(gctx))
		}
		return nil
	})
	return t
}

// start runs task with the tasks' context; its failure (not a
// cancellation) is named and stops the rest.
func (t *tasks) start(name string, task func(context.Context) error) {
	t.eg.Go(func() error {
		if err := task(t.gctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// wait waits for every task and returns the first failure, or nil when
// the shutdown was asked through ctx before any failed (a drain that
// overran is then logged, not returned).
func (t *tasks) wait() error {
	err := t.eg.Wait()
	// errgroup cancels gctx with its first error, the very value Wait
	// returns, unless ctx was cancelled first.
	if err != nil && err != context.Cause(t.gctx) {
		t.logger.Warn("shutdown: not everything drained in time", "err", err)
		return nil
	}
	return err
}

// serveProcess runs every server and background task in one errgroup
// until ctx is done or one of them fails; then every other one drains
// (HTTP and gRPC servers within their shutdown grace) before it returns.
// It returns the first failure, or nil after a shutdown asked through
// ctx.
func serveProcess(ctx context.Context, cfg *config.Config, p *process, l *listeners, logger *slog.Logger) error {
	t := newTasks(ctx, logger)
	if p.as != nil {
		serveAuthz(t.start, cfg, p.as, l, logger)
	}
	if p.gw != nil {
		serveGateway(t.gctx, t.start, cfg, p, l, logger)
	}
	if l.extAuthzSrv != nil {
		t.start("ext_authz", func(ctx context.Context) error {
			return extauthz.Serve(ctx, l.extAuthzSrv, l.extAuthz, cfg.Gateway.Timeouts.Shutdown)
		})
	}
	return t.wait()
}

// serveAuthz starts the authorization server's background work and its
// listeners.
func serveAuthz(start starter, cfg *config.Config, as *authzServer, l *listeners, logger *slog.Logger) {
	start("background work", as.Run)
	hs := newServer(cfg.Listen, httpsafe.CloseAfterChunked(as.Handler()), cfg.TLS, logger)
	if as.mt != nil {
		start("mtls reload", func(ctx context.Context) error { as.mt.Watch(ctx, cfg.MTLS.Interval()); return nil })
		if cfg.MTLS.Listen == "" {
			// Client certificates on the main listener; the snapshot's
			// certificate wins over the files.
			hs.TLSConfig = as.mt.TLSConfig()
		}
	}
	start("authorization server", func(ctx context.Context) error { return serveHTTP(ctx, hs, l.as, cfg.TLS) })
	if l.mtls != nil {
		ms := newServer(cfg.MTLS.Listen, httpsafe.CloseAfterChunked(as.Handler()), cfg.TLS, logger)
		ms.TLSConfig = as.mt.TLSConfig()
		start("mtls endpoints", func(ctx context.Context) error { return serveHTTP(ctx, ms, l.mtls, cfg.TLS) })
	}
	if l.asAdmin != nil {
		adm := &http.Server{Handler: adminMux(as), ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
		start("admin", func(ctx context.Context) error { return serveHTTP(ctx, adm, l.asAdmin, config.TLS{}) })
	}
}

// serveGateway brings the revocation feed up to date, then starts it, the
// gateway's listeners and the configuration reload watcher.
func serveGateway(ctx context.Context, start starter, cfg *config.Config, p *process, l *listeners, logger *slog.Logger) {
	if p.feed != nil {
		p.feed.catchUp(ctx, logger)
		start("revocation feed", p.feed.follower.Run)
		if p.rs != nil {
			start("revocation wake-ups", func(ctx context.Context) error { p.rs.replay.RevocationWakeups(ctx, p.wakeups.Wake); return nil })
		}
	}
	gw := p.gw
	start("gateway", func(ctx context.Context) error { return gw.Serve(ctx, l.gw, l.gwAdmin) })
	if l.authorizer != nil {
		start("gateway authorizer", func(ctx context.Context) error { return gw.ServeAuthorizer(ctx, l.authorizer) })
	}
	if f := cfg.File(); f != "" {
		start("gateway reload", func(ctx context.Context) error {
			gw.WatchReload(ctx, gateway.FileLoader(f), 2*time.Second, f)
			return nil
		})
	}
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
	if err := devPairwiseSalt(cfg); err != nil {
		return nil, nil, err
	}
	// OIDC Core §8.1: the file's clients are registered at every start,
	// so their sector identifier documents are checked now, fail closed.
	if err := authz.CheckStaticSectors(ctx, nil, cfg); err != nil {
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
	// Pairwise clients need the salt and a sector (subject.go).
	if err := srv.CheckSubjectTypes(ctx); err != nil {
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
	return graceful.Serve(ctx, s, ln, graceful.Options{Grace: shutdownGrace, TLS: t.Enabled(), CertFile: t.CertFile, KeyFile: t.KeyFile})
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
