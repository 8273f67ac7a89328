package server

import (
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/extauthz"
	"github.com/wardauth/ward/gateway"
)

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
	if l.extAuthz, l.extAuthzSrv, err = listenExtAuthz(cfg, p.gw, p.tr, logger); err != nil {
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

// listenExtAuthz opens gateway.ext_authz's listener (only trusted peers'
// connections are served) and builds its gRPC server; nil, nil without
// it.
func listenExtAuthz(cfg *config.Config, gw *gateway.Gateway, tr *tracing, logger *slog.Logger) (net.Listener, *grpc.Server, error) {
	ea := &cfg.Gateway.ExtAuthz
	if gw == nil || !ea.Enabled() {
		return nil, nil, nil
	}
	srv := extauthz.New(extauthz.DeciderFunc(tr.decider(gw.DecideAndRecord)), extauthz.Options{MaxHeaderBytes: int(cfg.Gateway.Limits.MaxHeaderBytes), Logger: logger})
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
