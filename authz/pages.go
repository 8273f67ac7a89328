package authz

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/wardauth/ward/oauth"
)

//go:embed templates/*.html templates/ward.css
var templateFS embed.FS

type pages struct {
	t   *template.Template
	css []byte
}

func newPages() (*pages, error) {
	t, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	css, err := templateFS.ReadFile("templates/ward.css")
	if err != nil {
		return nil, err
	}
	return &pages{t: t, css: css}, nil
}

// pageHeaders are the headers of every HTML page: a strict
// Content-Security-Policy (no script at all, styles only from this
// origin, forms only to this origin and to the client the flow ends at,
// no framing), clickjacking and sniffing protection, no caching, no
// referrer (the URL carries the flow).
func pageHeaders(h http.Header, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// render executes a page template. formTarget is the CSP source of the
// client the form's submission may end at ("" for none).
func (s *Server) render(w http.ResponseWriter, status int, name, formTarget string, data map[string]any) {
	var buf bytes.Buffer
	data["CSS"] = s.url(PathStatic + "ward.css")
	if err := s.pages.t.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("authz: rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w.Header(), formTarget)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows an error to the user. It is used whenever the client or
// its redirect URI cannot be trusted, so the browser is never redirected.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, e *oauth.Error) {
	if status >= 500 {
		s.log.Error("authz: page failed", "path", r.URL.Path, "err", e)
		// The store out of reach: 503 with Retry-After, as on the JSON
		// endpoints (unavailable.go), so the user and any monitor see a
		// passing outage rather than a bug.
		if u := asProtocolError(e); u.Code == oauth.TemporarilyUnavailable {
			status, e = u.Status, u
			retryAfter(w, time.Duration(u.RetryAfter)*time.Second)
		}
	}
	desc := e.Description
	switch {
	case e.Code == oauth.TemporarilyUnavailable:
		desc = "Sign-in is unavailable for a moment. Try again shortly."
	case status >= 500:
		desc = "Something went wrong on our side. Try again later."
	}
	s.render(w, status, "error.html", "", map[string]any{
		"Title":       "Sign-in error",
		"Code":        e.Code,
		"Description": desc,
	})
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(s.pages.css)
}
