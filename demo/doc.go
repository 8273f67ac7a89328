// Package demo is the demo of `ward serve --dev`: a tiny API that echoes
// the identity headers the gateway sent (Upstream), a single-page app
// that logs in through a BFF site (App), and the gateway section that
// puts them behind the gateway (DevConfig).
//
// The gateway does not know the demo: package server passes Builtins as
// gateway.Options.Upstreams, which is where routes find their builtin:
// upstreams. Nothing here is needed in production.
package demo
