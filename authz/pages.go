package authz

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
)

//go:embed templates/*.html templates/ward.css
var templateFS embed.FS

type pages struct {
	t     *template.Template
	css   []byte // ward.css and the brand's colours
	brand pageBrand
}

// pageBrand is the operator's brand (config ui.brand) as the pages show
// it.
type pageBrand struct {
	Name string
	Logo string // https URL, or ""
	// logoSource is the CSP source of Logo ("" for none).
	logoSource string
}

// defaultBrand names the pages when ui.brand.name is empty.
const defaultBrand = "Ward"

func newPages(ui config.UI) (*pages, error) {
	t, err := template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	css, err := templateFS.ReadFile("templates/ward.css")
	if err != nil {
		return nil, err
	}
	p := &pages{t: t, brand: pageBrand{Name: ui.Brand.Name}}
	if p.brand.Name == "" {
		p.brand.Name = defaultBrand
	}
	if u := ui.Brand.LogoURL; u != "" {
		if err := config.CheckHTTPSURL(u); err != nil {
			return nil, fmt.Errorf("%w: ui.brand.logo_url: %v", ErrConfig, err)
		}
		p.brand.Logo, p.brand.logoSource = u, imageSource(u)
	}
	p.css = append(css, brandCSS(ui.Brand.PrimaryColor)...)
	return p, nil
}

// brandCSS is the stylesheet rule that gives the pages the brand's
// colour: buttons in it, with black or white text, whichever contrasts
// more, and links in it when it reads on white (contrast at least 4.5:1,
// WCAG 2.2 §1.4.3); else links keep ward.css's blue. A colour that is not
// #rgb or #rrggbb (refused by config) adds nothing, so nothing the
// operator writes reaches the stylesheet but six hex digits.
func brandCSS(primary string) []byte {
	rgb, ok := config.ParseHexColor(primary)
	if !ok {
		return nil
	}
	hex := fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
	l := luminance(rgb)
	onPrimary := "#ffffff"
	if contrast(l, 0) > contrast(l, 1) {
		onPrimary = "#111111"
	}
	rule := fmt.Sprintf("\n:root{--primary:%s;--on-primary:%s", hex, onPrimary)
	if contrast(l, 1) >= 4.5 {
		rule += ";--link:" + hex
	}
	return []byte(rule + "}\n")
}

// luminance is the relative luminance of an sRGB colour (WCAG 2.2).
func luminance(rgb [3]uint8) float64 {
	var c [3]float64
	for i, v := range rgb {
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

// contrast is the WCAG contrast ratio of two relative luminances.
func contrast(a, b float64) float64 {
	return (max(a, b) + 0.05) / (min(a, b) + 0.05)
}

// imageSource is the CSP source of an https image URL: its origin, or ""
// for a URL config.CheckHTTPSURL refuses (one stored past validation).
func imageSource(u string) string {
	p, err := url.Parse(u)
	if err != nil || config.CheckHTTPSURL(u) != nil {
		return ""
	}
	return "https://" + p.Host
}

// pageHeaders are the headers of every HTML page: a strict
// Content-Security-Policy (no script at all, styles only from this
// origin, images from this origin and the logos' origins only, forms
// only to this origin and to the client the flow ends at, no framing),
// clickjacking and sniffing protection, no caching, no referrer (the URL
// carries the flow).
func pageHeaders(h http.Header, formTarget string, imgSources ...string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	img := "'self'"
	for _, src := range imgSources {
		if src != "" && !strings.Contains(img, " "+src) {
			img += " " + src
		}
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src "+img+"; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// page is one page to render.
type page struct {
	name   string // template
	status int
	lang   language
	title  string // catalogue key of the <title>
	// formTarget is the CSP source of the client the form's submission
	// may end at ("" for none).
	formTarget string
	// client, when set, is shown by name and logo; its logo's origin
	// joins img-src.
	client *client
	data   map[string]any
}

// pageClient is a client as the pages show it.
type pageClient struct {
	Name string
	Logo string // https URL (config.CheckHTTPSURL), or ""
	URI  string // https home page, or ""
}

// render executes a page template with the brand, the language's text
// and the client.
func (s *Server) render(w http.ResponseWriter, p page) {
	data := p.data
	if data == nil {
		data = map[string]any{}
	}
	data["CSS"] = s.url(PathStatic + "ward.css")
	data["Brand"] = s.pages.brand
	data["Lang"] = string(p.lang)
	data["T"] = p.lang.texts()
	data["Title"] = p.lang.text(p.title)
	imgs := []string{s.pages.brand.logoSource}
	data["Client"] = (*pageClient)(nil)
	if c := p.client; c != nil {
		pc := &pageClient{Name: clientName(c), Logo: c.LogoURI, URI: c.ClientURI}
		if src := imageSource(pc.Logo); src == "" {
			pc.Logo = ""
		} else {
			imgs = append(imgs, src)
		}
		data["Client"] = pc
	}
	var buf bytes.Buffer
	if err := s.pages.t.ExecuteTemplate(&buf, p.name, data); err != nil {
		s.log.Error("authz: rendering page", "page", p.name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w.Header(), p.formTarget, imgs...)
	w.WriteHeader(p.status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows an error to the user. It is used whenever the client or
// its redirect URI cannot be trusted, so the browser is never redirected
// and the page links nowhere back (RFC 6749 §4.1.2.1). The person reads
// what happened and what to do in their language; the code and the
// description, for whoever they ask for help, are below.
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
	lang := pageLanguage(r, nil)
	kind := errorKind(status, e.Code)
	s.render(w, page{name: "error.html", status: status, lang: lang, title: "error_title", data: map[string]any{
		"Heading":     lang.text(kind),
		"Why":         lang.text(kind + "_why"),
		"Do":          lang.text(kind + "_do"),
		"Code":        e.Code,
		"Description": desc,
	}})
}

// errorKind is the catalogue key of the person's explanation of an error
// page: the heading; key+"_why" says what happened, key+"_do" what to do.
func errorKind(status int, code string) string {
	switch {
	case code == oauth.TemporarilyUnavailable:
		return "err_down"
	case status >= 500:
		return "err_server"
	case status == http.StatusTooManyRequests || code == oauth.RateLimited:
		return "err_busy"
	case status == http.StatusForbidden:
		return "err_form" // the CSRF check (login.go, consent.go)
	case status == http.StatusMethodNotAllowed:
		return "err_method"
	case code == oauth.InvalidClient:
		return "err_client"
	case code == oauth.InvalidRequestURI:
		return "err_expired"
	}
	return "err_request"
}

// cancelURL is where the login page's cancel link goes: the client's
// redirect URI with error=access_denied, state and iss, as a denied
// consent (RFC 6749 §4.1.2.1, RFC 9207 §2). Only for a flow, whose client
// and redirect URI were validated at /authorize and again when the flow
// was opened (flowFromRequest): the error page, shown when they could not
// be, never links back. A redirect URI whose scheme html/template would
// not trust (a private-use scheme, RFC 8252 §7.1) is passed as
// template.URL only in reverse-domain form, which config requires of
// such schemes: never javascript: or data:.
//
// A JARM request's link carries the signed response (jarm.go), signed
// when the page is rendered; "" when it cannot be signed.
func (s *Server) cancelURL(ctx context.Context, req *authRequest) template.URL {
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
		return ""
	}
	switch {
	case u.Scheme == "https", u.Scheme == "http":
	case strings.Contains(u.Scheme, ".") && formActionSource(req.RedirectURI) != "":
	default:
		return ""
	}
	v := url.Values{"error": {oauth.AccessDenied}, "error_description": {"the user cancelled the sign-in"}, "iss": {s.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	to, err := s.responseURL(ctx, req, v)
	if err != nil {
		s.log.Error("authz: cancel link not signed", "err", err)
		return ""
	}
	return template.URL(to)
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(s.pages.css)
}

// DocsURL is the documentation the issuer's landing page links to.
const DocsURL = "https://github.com/wardauth/ward/tree/main/docs"

// handleHome is the issuer's landing page (GET /): what this server is,
// for a person who opens the issuer URL, and the documents a developer
// looks for. Every other unknown path stays a 404.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	s.render(w, page{name: "home.html", status: http.StatusOK, lang: pageLanguage(r, nil), title: "home_title", data: map[string]any{
		"Issuer":   s.issuer,
		"Metadata": s.url(PathMetadata),
		"JWKS":     s.url(PathJWKS),
		"Docs":     DocsURL,
	}})
}
