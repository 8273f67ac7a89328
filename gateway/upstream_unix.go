//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package gateway

import (
	"net"
	"syscall"
)

// syncUpstream: upstreamTransport can check an idle connection (quiet).
const syncUpstream = true

// quiet reports whether an idle connection is still open and has nothing
// waiting to be read: one non-blocking peek (recv MSG_PEEK|MSG_DONTWAIT).
func quiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: open and nothing to read. Otherwise a byte nobody
		// asked for, the upstream's close (0 bytes) or an error.
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && ok
}
