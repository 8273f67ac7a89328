package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/resource"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

//go:embed layout.html
var layoutFS embed.FS

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10

// API is the admin API: the pages as HTML fragments and their actions,
// for the console's BFF only. Every call is verified twice: the resource
// middleware (a DPoP-bound token of the console's client with the scope
// ward:admin, for this API), then the user's record, read on every call,
// must hold the admin role.
type API struct {
	cfg    config.Console
	o      Options
	prefix string // the console's, as the browser sees it
	base   string // prefix + apiPath
	h      http.Handler
	mux    *http.ServeMux
	pages  []*Page
	layout func(w http.ResponseWriter, status int, v View, content template.HTML) error
}

func newAPI(cfg config.Console, o Options, hc *http.Client, apiURL string) (*API, error) {
	proofs, err := dpop.NewVerifier(dpop.WithAllowedAlgorithms(dpop.ES256), dpop.WithBaseURL(strings.TrimSuffix(o.Issuer, "/")),
		dpop.WithReplayStore(o.Replay), dpop.WithClock(o.Clock))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	rs, err := resource.New(resource.Config{Issuer: strings.TrimSuffix(o.Issuer, "/"), Audience: apiURL, DPoP: proofs,
		HTTPClient: hc, Clock: o.Clock, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	a := &API{cfg: cfg, o: o, prefix: cfg.PathPrefix, base: cfg.PathPrefix + apiPath, mux: http.NewServeMux(), pages: registered()}
	if err := a.parse(); err != nil {
		return nil, err
	}
	req := resource.Requirement{Scopes: []string{config.ConsoleScope}}
	a.h = rs.Middleware(req)(http.HandlerFunc(a.authorise))
	return a, nil
}

// parse builds the layout and each page's template set, and registers
// the pages' routes.
func (a *API) parse() error {
	base, err := template.New("layout.html").Funcs(a.funcs()).ParseFS(layoutFS, "layout.html")
	if err != nil {
		return err
	}
	a.layout = func(w http.ResponseWriter, status int, v View, content template.HTML) error {
		var b bytes.Buffer
		if err := base.ExecuteTemplate(&b, "layout", struct {
			View
			Content template.HTML
		}{v, content}); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, err := w.Write(b.Bytes())
		return err
	}
	for _, p := range a.pages {
		t, err := template.New(p.Name).Funcs(a.funcs()).Parse(p.Template)
		if err != nil {
			return fmt.Errorf("console: page %s: %w", p.Name, err)
		}
		if t.Lookup("content") == nil {
			return fmt.Errorf("console: page %s defines no content template", p.Name)
		}
		if p.Routes != nil {
			p.Routes(routes{a, p, t})
		}
	}
	return nil
}

// routes registers one page's handlers on the API's mux.
type routes struct {
	a *API
	p *Page
	t *template.Template
}

func (r routes) Get(path string, h Handler)  { r.handle("GET", path, h) }
func (r routes) Post(path string, h Handler) { r.handle("POST", path, h) }

func (r routes) handle(method, path string, h Handler) {
	r.a.mux.HandleFunc(method+" "+r.a.base+path, func(w http.ResponseWriter, req *http.Request) {
		c := &Call{W: w, R: req, Operator: operatorFrom(req), api: r.a, page: r.p, tmpl: r.t}
		if method == "POST" {
			req.Body = http.MaxBytesReader(w, req.Body, maxFormBytes)
			if err := req.ParseForm(); err != nil {
				r.a.problem(c, &Problem{Status: http.StatusBadRequest, Message: "the form cannot be read"})
				return
			}
		}
		if err := h(c); err != nil {
			r.a.problem(c, err)
		}
	})
}

// ServeHTTP verifies the call and serves it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	a.h.ServeHTTP(w, r)
}

type operatorKey struct{}

func operatorFrom(r *http.Request) Operator {
	op, _ := r.Context().Value(operatorKey{}).(Operator)
	return op
}

// authorise runs after the token check: the token must be the console
// client's, and the user's record, read now, must hold the admin role.
// A role removed takes effect at the next call, not at the next login.
func (a *API) authorise(w http.ResponseWriter, r *http.Request) {
	id, _ := resource.IdentityFrom(r.Context())
	if id == nil || id.ClientID != a.cfg.ClientID {
		a.refuse(w, r, id, "not_console_client", "This token was not issued to the console.")
		return
	}
	u, err := a.o.Store.GetUser(r.Context(), id.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.refuse(w, r, id, "no_user", "Your account no longer exists.")
		return
	case err != nil:
		a.o.Logger.Error("console: reading the operator", "sub", id.Subject, "err", err)
		http.Error(w, "the store is unavailable", http.StatusServiceUnavailable)
		return
	case !u.Claims.HasRole(a.cfg.AdminRole):
		a.refuse(w, r, id, "not_admin", "Your account ("+u.Username+") does not have the "+a.cfg.AdminRole+" role: the console is for administrators. Sign out, then sign in with an administrator's account.")
		return
	}
	op := Operator{Subject: u.Subject, Username: u.Username}
	ctx := r.Context()
	r = r.WithContext(contextWith(ctx, op))
	a.mux.ServeHTTP(w, r)
}

// refuse answers 403 with a page saying why, and records the refusal as
// a policy_denied event.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, id *resource.Identity, reason, msg string) {
	if a.o.Events != nil {
		ev := secevent.Event{Type: secevent.PolicyDenied, Time: a.o.Clock(), Severity: secevent.PolicyDenied.Severity(),
			Instance: a.o.Instance, Route: "console", Reason: "console_" + reason}
		if id != nil {
			ev.Subject, ev.ClientID, ev.JKT = id.Subject, id.ClientID, id.JKT
		}
		a.o.Events.Emit(ev)
	}
	a.o.Logger.Info("console: access refused", "reason", reason, "remote", r.RemoteAddr)
	v := View{Title: "Access refused", Notice: ""}
	_ = a.layout(w, http.StatusForbidden, v, template.HTML("<p class=\"problem\" role=\"alert\">"+template.HTMLEscapeString(msg)+"</p>")) //nolint:gosec // escaped
}

// problem renders a handler's error.
func (a *API) problem(c *Call, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, store.ErrNotFound):
		p = &Problem{Status: http.StatusNotFound, Message: "Not found."}
	case errors.Is(err, store.ErrAlreadyExists):
		p = &Problem{Status: http.StatusConflict, Message: "It exists already."}
	default:
		a.o.Logger.Error("console: call failed", "page", c.page.Name, "path", c.R.URL.Path, "err", err)
		p = &Problem{Status: http.StatusInternalServerError, Message: "The call failed; the server's log says why."}
	}
	msg := p.Message
	if p.Field != "" {
		msg = p.Field + ": " + msg
	}
	v := View{Title: c.page.Title, Page: c.page.Name, Operator: c.Operator, Nav: a.nav(c.page.Name)}
	_ = a.layout(c.W, p.Status, v, template.HTML("<p class=\"problem\" role=\"alert\">"+template.HTMLEscapeString(msg)+"</p>")) //nolint:gosec // escaped
}
