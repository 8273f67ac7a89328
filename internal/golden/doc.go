// Package golden compares test output with files under testdata/, and
// rewrites them when the test binary runs with -update (each test package
// declares that flag itself, as `var update = flag.Bool("update", false,
// "rewrite golden files")`, and passes its value).
//
// Response renders an HTTP response as a stable text: the status line,
// the headers sorted by name, a blank line and the body, which is what a
// client parses and what a reviewer reads in a diff.
package golden
