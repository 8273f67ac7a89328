package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Dev-mode listeners when not moved by SetDevAddrs.
const (
	DevListen        = "127.0.0.1:9000"
	DevGatewayListen = "127.0.0.1:9001"
	DevAdminListen   = "127.0.0.1:9002"
)

// ErrNotDev: SetDevAddrs on a configuration that is not dev mode's.
var ErrNotDev = errors.New("config: listener addresses are flags only in dev mode; set listen, gateway.listen and gateway.admin_listen in the file")

// SetDevAddrs moves a dev-mode configuration (Dev) to other loopback
// addresses, so that a second dev server, or a test, can run beside the
// first: the authorization server listens on as and its issuer follows
// (http://as), the gateway listens on gateway and is reached at
// http://gateway, its admin listener on admin. An empty address keeps
// the default. Each must be a loopback IP with a port (0 is refused:
// the issuer must name the port before the listener exists).
func (c *Config) SetDevAddrs(as, gateway, admin string) error {
	if !c.Dev {
		return ErrNotDev
	}
	as, gateway, admin = cmp.Or(as, DevListen), cmp.Or(gateway, DevGatewayListen), cmp.Or(admin, DevAdminListen)
	var errs []error
	for _, a := range []struct{ flag, addr string }{{"--listen", as}, {"--gateway-listen", gateway}, {"--admin-listen", admin}} {
		if err := loopbackAddr(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.flag, a.addr, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.Listen, c.Issuer = as, "http://"+as
	c.Gateway.Listen, c.Gateway.AdminListen, c.Gateway.PublicURL = gateway, admin, "http://"+gateway
	return nil
}

// loopbackAddr accepts a loopback IP and a port other than 0.
func loopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return errors.New("dev mode listens on loopback IP addresses only (127.0.0.1 or ::1)")
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p == 0 {
		return errors.New("want a port number other than 0")
	}
	return nil
}
