package client

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
)

// The page the browser shows at the end of AuthorizeLoopback: the person
// is told the window can be closed, or why the sign-in did not complete
// and what to do. One inline stylesheet, allowed by its hash in the
// page's Content-Security-Policy; no script.

const loopbackCSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f2f4f7;color:#1a1a1a;margin:0;padding:3rem 1rem;line-height:1.5}
main{max-width:28rem;margin:0 auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgba(0,0,0,.12),0 6px 20px rgba(0,0,0,.06);text-align:center}
.mark{display:inline-block;width:3rem;height:3rem;line-height:3rem;border-radius:50%;font-size:1.6rem;font-weight:700;color:#fff;background:#1e7e34}
.failed .mark{background:#b00020}
h1{font-size:1.4rem;margin:1rem 0 .5rem}
p{margin:.5rem 0;color:#4d5562}
code{display:block;margin-top:1rem;padding:.6rem .8rem;background:#f0f2f5;border-radius:6px;font-size:.85rem;text-align:left;overflow-wrap:anywhere;color:#1a1a1a}
@media (max-width:30rem){body{padding:1.5rem .75rem}main{padding:1.5rem 1.25rem}}`

var loopbackPage = template.Must(template.New("loopback").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main{{if .Failed}} class="failed"{{end}}>
<span class="mark" aria-hidden="true">{{if .Failed}}!{{else}}✓{{end}}</span>
<h1>{{.Title}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}{{if .Detail}}<code>{{.Detail}}</code>{{end}}
</main>
</body>
</html>
`))

// loopbackCSP allows the page's one stylesheet by its hash (CSP3 §8.2)
// and nothing else.
var loopbackCSP = func() string {
	h := sha256.Sum256([]byte(loopbackCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// writeLoopbackPage answers the browser's redirect: signed in, or err
// (checkResponse's) explained.
func writeLoopbackPage(w http.ResponseWriter, err error) {
	data := struct {
		Title, CSS, Detail string
		Lines              []string
		Failed             bool
	}{
		Title: "You are signed in",
		CSS:   loopbackCSS,
		Lines: []string{"You can close this window and return to the terminal.", "The command-line tool received the sign-in and is fetching its token."},
	}
	status := http.StatusOK
	if err != nil {
		status, data.Failed, data.Detail = http.StatusBadRequest, true, err.Error()
		data.Title = "Sign-in did not complete"
		data.Lines = []string{loopbackReason(err), "Return to the terminal and run the command again. You can close this window."}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", loopbackCSP)
	w.WriteHeader(status)
	// html/template would escape the stylesheet inside <style> as CSS;
	// it is a constant, so it is passed as trusted.
	_ = loopbackPage.Execute(w, struct {
		Title  string
		CSS    template.CSS
		Detail string
		Lines  []string
		Failed bool
	}{data.Title, template.CSS(data.CSS), data.Detail, data.Lines, data.Failed})
}

// loopbackReason says in a sentence why the redirect was not a sign-in.
func loopbackReason(err error) string {
	var ae *AuthorizationError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode == "access_denied":
		return "The sign-in was cancelled or access was denied, so the command-line tool got no token."
	case errors.As(err, &ae):
		return "The sign-in service refused the request, so the command-line tool got no token."
	case errors.Is(err, ErrStateMismatch):
		return "This answer does not belong to the sign-in the command-line tool started (it may be an old tab)."
	case errors.Is(err, ErrIssuerMismatch):
		return "This answer comes from another sign-in service than the one the command-line tool asked."
	}
	return "The answer from the sign-in service could not be used."
}
