package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/oauth"
	"github.com/wardauth/ward/secevent"
	"github.com/wardauth/ward/store"
)

// The clients page: list, create, edit, rotate a secret (shown once),
// delete. A client declared in the configuration file (or by Ward, as the
// console's own) is shown but not changed here: the file would undo it.
func init() {
	Register(&Page{
		Name: "clients", Title: "Clients", Nav: 10,
		Template: clientsTemplate,
		Routes: func(r Routes) {
			r.Get("/clients", listClients)
			r.Get("/clients/new", newClientForm)
			r.Post("/clients", createClient)
			r.Get("/clients/{id}", showClient)
			r.Post("/clients/{id}", editClient)
			r.Post("/clients/{id}/rotate", rotateClientSecret)
			r.Post("/clients/{id}/delete", deleteClient)
		},
	})
}

const clientsTemplate = `{{define "content"}}{{with .Data}}
{{if .List}}{{template "list" .}}{{else if .Client}}{{template "client" .}}{{else}}{{template "form" .}}{{end}}
{{end}}{{end}}

{{define "list"}}
<form class="search" method="get" action="{{path "clients"}}" role="search">
  <label for="client-q">Find a client</label>
  <input type="search" id="client-q" name="q" value="{{.Query}}" placeholder="client id or name">
  <button type="submit">Search</button>
</form>
<p><a class="button" href="{{path "clients" "new"}}">New client</a></p>
<div class="table-wrap"><table>
<caption class="muted">{{len .Clients}} client(s)</caption>
<thead><tr><th scope="col">Client</th><th scope="col">Name</th><th scope="col">Authentication</th><th scope="col">Sender constraint</th><th scope="col">Scopes</th></tr></thead>
<tbody>{{range .Clients}}<tr>
  <td><a href="{{path "clients" .ID}}"><code>{{.ID}}</code></a>{{if .Static}} <span class="tag">declared</span>{{end}}</td>
  <td>{{.Name}}</td><td>{{.AuthMethod}}</td><td>{{.SenderConstraint}}</td><td>{{join .Scopes " "}}</td>
</tr>{{else}}<tr><td colspan="5">No client matches.</td></tr>{{end}}</tbody>
</table></div>
{{end}}

{{define "secret"}}{{if .Secret}}<div class="panel" role="status">
  <h2>Client secret</h2>
  <p>Copy it now: it is shown <strong>once</strong>. Ward keeps only its SHA-256.</p>
  <p class="secret" id="client-secret">{{.Secret}}</p>
</div>{{end}}{{end}}

{{define "client"}}{{with .Client}}
{{template "secret" $}}
<dl class="facts">
  <dt>Client id</dt><dd><code>{{.ID}}</code>{{if .Static}} <span class="tag">declared in the configuration</span>{{end}}</dd>
  <dt>Authentication</dt><dd>{{.AuthMethod}}</dd>
  <dt>Created</dt><dd>{{time .CreatedAt}}</dd>
</dl>
{{if .Static}}<p class="muted">This client is declared in the configuration file (or by Ward): change it there.</p>{{else}}
{{template "form" $}}
<div class="panel">
  <h2>Secret and removal</h2>
  <div class="actions">
  {{if $.HasSecret}}<form class="inline" method="post" action="{{path "clients" .ID "rotate"}}" data-confirm="Rotate the secret of {{.ID}}? The old secret stops working at once.">
    <button type="submit" class="secondary">Rotate secret</button></form>{{end}}
  <form class="inline" method="post" action="{{path "clients" .ID "delete"}}" data-confirm="Delete client {{.ID}}? Its users' tokens stop working.">
    <button type="submit" class="danger">Delete client</button></form>
  </div>
</div>{{end}}
{{end}}{{end}}

{{define "form"}}{{$new := not .Client}}
<form class="panel" method="post" action="{{if $new}}{{path "clients"}}{{else}}{{path "clients" .Client.ID}}{{end}}">
  <h2>{{if $new}}New client{{else}}Settings{{end}}</h2>
  {{if $new}}<label for="c-id">Client id</label>
  <input type="text" id="c-id" name="id" required value="{{.Form.ID}}" autocomplete="off">
  <label for="c-auth">Authentication</label>
  <select id="c-auth" name="auth_method">{{range .AuthMethods}}<option value="{{.}}"{{if eq . $.Form.AuthMethod}} selected{{end}}>{{.}}</option>{{end}}</select>
  <p class="hint">A secret is generated for client_secret_basic and client_secret_post and shown once; none is a public client (PKCE and DPoP only).</p>{{end}}
  <label for="c-name">Name</label>
  <input type="text" id="c-name" name="name" value="{{.Form.Name}}">
  <fieldset><legend>Grant types</legend>{{range .GrantTypes}}
    <label class="check"><input type="checkbox" name="grant_type" value="{{.}}"{{if has $.Form.GrantTypes .}} checked{{end}}> {{.}}</label>{{end}}
  </fieldset>
  <label for="c-redirects">Redirect URIs</label>
  <textarea id="c-redirects" name="redirect_uris" aria-describedby="c-redirects-hint">{{join .Form.RedirectURIs "\n"}}</textarea>
  <p class="hint" id="c-redirects-hint">One a line; compared exactly.</p>
  <label for="c-scopes">Scopes</label>
  <input type="text" id="c-scopes" name="scopes" value="{{join .Form.Scopes " "}}" aria-describedby="c-scopes-hint">
  <p class="hint" id="c-scopes-hint">Separated by spaces.</p>
  <label for="c-aud">Audiences</label>
  <textarea id="c-aud" name="audiences">{{join .Form.Audiences "\n"}}</textarea>
  <label for="c-sc">Sender constraint</label>
  <select id="c-sc" name="sender_constraint">{{range .Constraints}}<option value="{{.}}"{{if eq . $.Form.SenderConstraint}} selected{{end}}>{{.}}</option>{{end}}</select>
  <label class="check"><input type="checkbox" name="require_par" value="1"{{if .Form.RequirePAR}} checked{{end}}> Require pushed authorization requests (PAR)</label>
  <button type="submit">{{if $new}}Create client{{else}}Save{{end}}</button>
</form>
{{end}}`

// clientView is the page's data: the list, one client, or the form.
type clientView struct {
	List        bool
	Query       string
	Clients     []*store.Client
	Client      *store.Client
	HasSecret   bool
	Secret      string // shown once, after create or rotate
	Form        config.Client
	AuthMethods []oauth.AuthMethod
	GrantTypes  []oauth.GrantType
	Constraints []string
}

func formView(cl *store.Client, f config.Client) clientView {
	v := clientView{Client: cl, Form: f,
		AuthMethods: []oauth.AuthMethod{oauth.AuthSecretBasic, oauth.AuthSecretPost, oauth.AuthNone},
		GrantTypes:  []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
		Constraints: []string{store.ConstraintDPoP, store.ConstraintDPoPOrMTLS, store.ConstraintMTLS, store.ConstraintBearer},
	}
	if cl != nil {
		v.HasSecret = len(cl.SecretHash) > 0
	}
	return v
}

func listClients(c *Call) error {
	all, err := c.Store().ListClients(c.R.Context())
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(c.R.URL.Query().Get("q")))
	out := clientView{List: true, Query: q}
	for _, cl := range all {
		if q == "" || strings.Contains(strings.ToLower(cl.ID), q) || strings.Contains(strings.ToLower(cl.Name), q) {
			out.Clients = append(out.Clients, cl)
		}
	}
	slices.SortFunc(out.Clients, func(a, b *store.Client) int { return strings.Compare(a.ID, b.ID) })
	return c.Render(http.StatusOK, out)
}

func newClientForm(c *Call) error {
	return c.Render(http.StatusOK, formView(nil, config.Client{AuthMethod: oauth.AuthSecretBasic, SenderConstraint: store.ConstraintDPoP,
		GrantTypes: []oauth.GrantType{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}}))
}

func showClient(c *Call) error {
	cl, err := c.Store().GetClient(c.R.Context(), c.R.PathValue("id"))
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, formView(cl, configOf(cl)))
}

// clientForm reads the settings form into cl (a new client's id and
// method too) and checks it as the configuration file's clients are.
func clientForm(c *Call, cl config.Client, isNew bool) (config.Client, error) {
	if isNew {
		cl.ID, cl.AuthMethod = c.Form("id"), oauth.AuthMethod(c.Form("auth_method"))
	}
	cl.Name = c.Form("name")
	cl.RedirectURIs, cl.Audiences = lines(c.Form("redirect_uris")), lines(c.Form("audiences"))
	cl.Scopes = strings.Fields(c.Form("scopes"))
	cl.GrantTypes = nil
	for _, g := range c.R.PostForm["grant_type"] {
		cl.GrantTypes = append(cl.GrantTypes, oauth.GrantType(g))
	}
	cl.SenderConstraint, cl.RequirePAR = c.Form("sender_constraint"), c.Form("require_par") == "1"
	switch {
	case cl.ID == "":
		return cl, Invalid("client id", "is required")
	case len(cl.GrantTypes) == 0:
		return cl, Invalid("grant types", "choose at least one")
	}
	if err := config.ValidateClient(cl, true); err != nil {
		return cl, Invalid("", "%s", strings.ReplaceAll(err.Error(), "clients[0].", ""))
	}
	return cl, nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// configOf is a stored client as the form shows it.
func configOf(cl *store.Client) config.Client {
	return config.Client{ID: cl.ID, Name: cl.Name, AuthMethod: cl.AuthMethod, RedirectURIs: cl.RedirectURIs,
		GrantTypes: cl.GrantTypes, Scopes: cl.Scopes, Audiences: cl.Audiences, SenderConstraint: cl.SenderConstraint,
		RequirePAR: cl.RequirePAR}
}

func createClient(c *Call) error {
	f, err := clientForm(c, config.Client{}, true)
	if err != nil {
		return err
	}
	if f.AuthMethod != oauth.AuthSecretBasic && f.AuthMethod != oauth.AuthSecretPost && f.AuthMethod != oauth.AuthNone {
		return Invalid("authentication", "the console makes client_secret_basic, client_secret_post and none clients; use ward client create for the others")
	}
	sc := &store.Client{ID: f.ID, Name: f.Name, AuthMethod: f.AuthMethod, RedirectURIs: f.RedirectURIs, GrantTypes: f.GrantTypes,
		Scopes: f.Scopes, Audiences: f.Audiences, SenderConstraint: f.SenderConstraint, RequirePAR: f.RequirePAR}
	secret, err := authz.CreateClient(c.R.Context(), c.Store(), sc, c.Now())
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Problem{Status: http.StatusConflict, Field: "client id", Message: "client " + f.ID + " exists already"}
	}
	if err != nil {
		return err
	}
	c.Event(secevent.ClientChanged, secevent.Event{ClientID: sc.ID, Reason: "created"})
	c.Notice("Client %s created.", sc.ID)
	c.Location("clients", sc.ID)
	v := formView(sc, configOf(sc))
	v.Secret = secret
	return c.Render(http.StatusCreated, v)
}

// changeable returns the stored client id names, refusing a declared one.
func changeable(c *Call) (*store.Client, error) {
	cl, err := c.Store().GetClient(c.R.Context(), c.R.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if cl.Static {
		return nil, &Problem{Status: http.StatusConflict, Message: "client " + cl.ID + " is declared in the configuration file (or by Ward): change it there"}
	}
	return cl, nil
}

// save stores a changed client and drops it from the server's cache.
func save(c *Call, cl *store.Client, reason string) error {
	if err := c.Store().UpsertClient(c.R.Context(), cl); err != nil {
		return err
	}
	if a := c.api.o.Accounts; a != nil {
		a.ForgetClient(cl.ID)
	}
	c.Event(secevent.ClientChanged, secevent.Event{ClientID: cl.ID, Reason: reason})
	return nil
}

func editClient(c *Call) error {
	cl, err := changeable(c)
	if err != nil {
		return err
	}
	f, err := clientForm(c, configOf(cl), false)
	if err != nil {
		return err
	}
	cl.Name, cl.RedirectURIs, cl.GrantTypes, cl.Scopes = f.Name, f.RedirectURIs, f.GrantTypes, f.Scopes
	cl.Audiences, cl.SenderConstraint, cl.RequirePAR = f.Audiences, f.SenderConstraint, f.RequirePAR
	if cl.Public() && cl.SenderConstraint == store.ConstraintBearer {
		return Invalid("sender constraint", "public clients cannot opt out of DPoP")
	}
	if err := save(c, cl, "updated"); err != nil {
		return err
	}
	c.Notice("Client %s saved.", cl.ID)
	return c.Render(http.StatusOK, formView(cl, configOf(cl)))
}

func rotateClientSecret(c *Call) error {
	cl, err := changeable(c)
	if err != nil {
		return err
	}
	if len(cl.SecretHash) == 0 {
		return &Problem{Status: http.StatusConflict, Message: "client " + cl.ID + " has no secret (" + string(cl.AuthMethod) + ")"}
	}
	var secret string
	secret, cl.SecretHash = authz.NewClientSecret()
	if err := save(c, cl, "secret_rotated"); err != nil {
		return err
	}
	c.Notice("The secret of %s was rotated: the old one no longer works.", cl.ID)
	v := formView(cl, configOf(cl))
	v.Secret = secret
	return c.Render(http.StatusOK, v)
}

func deleteClient(c *Call) error {
	cl, err := changeable(c)
	if err != nil {
		return err
	}
	if err := c.Store().DeleteClient(c.R.Context(), cl.ID); err != nil {
		return err
	}
	if a := c.api.o.Accounts; a != nil {
		a.ForgetClient(cl.ID)
	}
	c.Event(secevent.ClientChanged, secevent.Event{ClientID: cl.ID, Reason: "deleted"})
	c.Notice("Client %s deleted.", cl.ID)
	c.Location("clients")
	c.R.URL.RawQuery = ""
	return listClients(c)
}
