// Package docexamples runs the shell examples of README.md and docs/*.md
// as written, against a `ward serve --dev` it starts itself on free
// loopback ports, so that no documented command drifts from the CLI.
//
// The convention (docs/TESTING.md): every fenced block whose info string
// is `sh` is run, in document order, with bash -euo pipefail, in one
// scratch folder holding `./ward` (also on PATH) and the dev server's
// `./ward-data`, with HOME in that folder. A block that needs what the
// test cannot provide (another server, a browser, the network, a
// production configuration) is preceded by
//
//	<!-- docs-test: skip REASON -->
//
// with a reason. Lines that start the dev server (`ward serve --dev`,
// `./ward serve --dev`, `go run ./cmd/ward serve --dev`, with or without
// `&`) and `go build -o ward ./cmd/ward` are what the test has already
// done and are not run again; the dev URLs (127.0.0.1:9000, :9001,
// :9002) are rewritten to the server's free ports. An HTTP error fails an
// example like any other error: `ward curl` and `curl` run with -f.
//
// It skips only when bash or curl is missing.
package docexamples
