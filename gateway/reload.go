package gateway

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wardauth/ward/config"
)

// Loader reads and validates the gateway section again, for a reload
// (for example: c, err := config.Load(path); return &c.Gateway, err).
type Loader func() (*config.Gateway, error)

// WatchReload reloads the configuration (and, on SIGHUP, the changed
// gateway.mtls certificate and CA files) on SIGHUP and whenever one of
// files changes (checked every interval; 0 disables polling), until ctx is
// done. A file that fails to load or validate is refused and logged; the
// running configuration stays.
func (g *Gateway) WatchReload(ctx context.Context, load Loader, interval time.Duration, files ...string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if interval > 0 && len(files) > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	last := stamps(files)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			g.log.Info("SIGHUP: reloading gateway configuration")
			g.ReloadFrom(load)
			if _, err := g.ReloadCertificates(); err != nil {
				g.log.Error("TLS files not reloaded; keeping the previous ones", "err", err)
			}
			last = stamps(files)
		case <-tick:
			now := stamps(files)
			if now != last {
				last = now
				g.log.Info("configuration file changed: reloading gateway configuration")
				g.ReloadFrom(load)
			}
		}
	}
}

// ReloadFrom loads a configuration with load and reloads it; a load error
// is refused like an invalid configuration.
func (g *Gateway) ReloadFrom(load Loader) error {
	cfg, err := load()
	if err != nil {
		g.metrics.reloads.WithLabelValues("refused").Inc()
		g.log.Error("gateway reload refused; keeping the running configuration", "err", err)
		return err
	}
	return g.Reload(cfg)
}

// stamps summarises the files' sizes and modification times.
func stamps(files []string) string {
	s := ""
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		} else {
			s += "missing;"
		}
	}
	return s
}

// FileLoader loads the whole configuration file at path (config.Load:
// strict decoding, environment overrides, validation) and returns its
// gateway section with the issuer resolved (gateway.issuer or the
// top-level issuer).
func FileLoader(path string) Loader {
	return func() (*config.Gateway, error) {
		c, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		g := c.Gateway
		g.Issuer = c.GatewayIssuer()
		return &g, nil
	}
}
