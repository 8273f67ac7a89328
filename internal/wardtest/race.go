//go:build race

package wardtest

// Race reports whether the race detector is on; time bounds in tests may
// be stretched by it (it slows every memory access several times).
const Race = true
