package console

import (
	"embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed static
var staticFS embed.FS

// csp is the shell's Content-Security-Policy: scripts, styles and calls
// from this origin only, no inline script or style, no framing, and
// Trusted Types, so that the script's one HTML sink takes only what its
// own policy passes (the admin API's fragments, escaped by
// html/template).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; trusted-types console"

var shellTmpl = template.Must(template.New("shell").Parse(`<!doctype html>
<html lang="en" data-prefix="{{.}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Ward console</title>
<link rel="stylesheet" href="{{.}}/static/console.css">
<script type="module" src="{{.}}/static/console.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the console…</p></div>
<noscript><p>The console needs JavaScript.</p></noscript>
</body>
</html>
`))

// securityHeaders are set on the shell and the static files.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// serveShell serves the static files under prefix/static/ and, for every
// other GET under the prefix, the shell: the script then asks the admin
// API for the page the path names.
func serveShell(w http.ResponseWriter, r *http.Request, prefix, rest string) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name, ok := strings.CutPrefix(rest, "/static/"); ok {
		serveStatic(w, r, name)
		return
	}
	if rest == "" {
		http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = shellTmpl.Execute(w, prefix)
}

// static are the files under static/, by name, with their types.
var static = map[string]string{"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}

func serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	ct, ok := static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
