package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// A Page is one page of the console: its place in the navigation, its
// template and its routes. Adding a page is one file holding a Page
// registered from the file's init, and one test (docs/CONSOLE.md).
type Page struct {
	// Name is the page's path under the console (/console/<Name>) and the
	// name of its template. Required; lower case.
	Name string
	// Title is shown in the navigation and the page's heading.
	Title string
	// Nav is the page's position in the navigation (ascending); 0 leaves
	// it out of the navigation.
	Nav int
	// Template is the page's html/template text. It defines "content"
	// and may define other templates it uses; it is rendered inside the
	// layout (layout.html) with a View whose Data is what the handler
	// gave Call.Render.
	Template string
	// Routes registers the page's handlers on r. Paths are relative to
	// the console, such as "/clients" or "/clients/{id}/rotate", and
	// take the http.ServeMux wildcards.
	Routes func(r Routes)
}

// Routes registers a page's handlers: GET for what a page shows, POST
// for every change (the BFF's CSRF defence covers both).
type Routes interface {
	Get(path string, h Handler)
	Post(path string, h Handler)
}

// Handler serves one call of an authorised operator. An error it returns
// is rendered: a *Problem as itself, store.ErrNotFound as 404,
// store.ErrAlreadyExists as 409, anything else as a 500 that is logged.
type Handler func(c *Call) error

var (
	pagesMu sync.Mutex
	pages   []*Page
)

// Register adds p to the console. Call it from an init function; a
// second page of the same name panics.
func Register(p *Page) {
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if p.Name == "" || strings.ToLower(p.Name) != p.Name || strings.Contains(p.Name, "/") {
		panic("console: page name " + p.Name + " must be one lower-case path segment")
	}
	for _, q := range pages {
		if q.Name == p.Name {
			panic("console: page " + p.Name + " registered twice")
		}
	}
	pages = append(pages, p)
}

// registered returns the pages, in navigation order.
func registered() []*Page {
	pagesMu.Lock()
	defer pagesMu.Unlock()
	out := slices.Clone(pages)
	slices.SortStableFunc(out, func(a, b *Page) int { return a.Nav - b.Nav })
	return out
}

// Operator is the authorised administrator making a call.
type Operator struct {
	Subject, Username string
}

// View is what a page's template receives.
type View struct {
	Title    string
	Page     string // the page's Name
	Operator Operator
	Nav      []NavItem
	Data     any
	// Notice is a line confirming what the call did.
	Notice string
}

// NavItem is one link of the navigation.
type NavItem struct {
	Title, Href string
	Current     bool
}

// Problem is a refusal a handler returns: a status and a message for the
// operator, naming the field at fault when there is one.
type Problem struct {
	Status  int
	Field   string
	Message string
}

func (p *Problem) Error() string {
	if p.Field != "" {
		return p.Field + ": " + p.Message
	}
	return p.Message
}

// Invalid is a 400 Problem about field.
func Invalid(field, format string, args ...any) *Problem {
	return &Problem{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Call is one authorised call of a page's handler.
type Call struct {
	W        http.ResponseWriter
	R        *http.Request
	Operator Operator
	api      *API
	page     *Page
	tmpl     *template.Template
	notice   string
}

// Store is the authorization server's store.
func (c *Call) Store() store.Store { return c.api.o.Store }

// Now is the console's clock.
func (c *Call) Now() time.Time { return c.api.o.Clock() }

// Form returns a form value of a POST, trimmed.
func (c *Call) Form(name string) string { return strings.TrimSpace(c.R.PostFormValue(name)) }

// Notice sets the confirmation line of the page rendered next.
func (c *Call) Notice(format string, args ...any) { c.notice = fmt.Sprintf(format, args...) }

// Path is the browser's path of a console page: Path("clients", id) is
// /console/clients/<id, escaped>.
func (c *Call) Path(segments ...string) string { return c.api.path(segments...) }

// Render answers with the page's template inside the layout.
func (c *Call) Render(status int, data any) error {
	v := View{Title: c.page.Title, Page: c.page.Name, Operator: c.Operator, Nav: c.api.nav(c.page.Name), Data: data, Notice: c.notice}
	var content bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&content, "content", v); err != nil {
		return err
	}
	return c.api.layout(c.W, status, v, template.HTML(content.String())) //nolint:gosec // html/template output
}

// Event emits a security event of the operator's action: t with ev's
// fields, the operator as the actor and "console" as the route.
func (c *Call) Event(t secevent.Type, ev secevent.Event) {
	if c.api.o.Events == nil {
		return
	}
	ev.Type, ev.Time, ev.Severity, ev.Instance = t, c.Now(), t.Severity(), c.api.o.Instance
	ev.Actor, ev.Route = c.Operator.Subject, "console"
	c.api.o.Events.Emit(ev)
}

// funcs are the templates' helpers.
func (a *API) funcs() template.FuncMap {
	return template.FuncMap{
		"path": a.path,
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"join": strings.Join,
		"has": func(list any, v any) bool {
			switch l := list.(type) {
			case []string:
				s, _ := v.(string)
				return slices.Contains(l, s)
			case []oauth.GrantType:
				g, _ := v.(oauth.GrantType)
				return slices.Contains(l, g)
			}
			return false
		},
	}
}

// path builds a console page's browser path from its segments, each
// escaped.
func (a *API) path(segments ...string) string {
	var b strings.Builder
	b.WriteString(a.prefix)
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if len(segments) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// nav is the navigation with current marked.
func (a *API) nav(current string) []NavItem {
	var out []NavItem
	for _, p := range a.pages {
		if p.Nav > 0 {
			out = append(out, NavItem{Title: p.Title, Href: a.path(p.Name), Current: p.Name == current})
		}
	}
	return out
}

// Location tells the script the address of the page the answer shows
// (after a POST, such as the new client's page): it goes into the
// browser's history.
func (c *Call) Location(segments ...string) {
	c.W.Header().Set("X-Console-Location", c.api.path(segments...))
}

func parseQuery(s string) (url.Values, error) { return url.ParseQuery(s) }
