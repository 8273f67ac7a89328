//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package gateway

import "net"

// syncUpstream: without a way to check an idle connection, upstreams use
// http.Transport.
const syncUpstream = false

func quiet(net.Conn) bool { return false }
