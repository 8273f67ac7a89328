package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/wardauth/ward/store"
)

// The clients page: list, create, edit, rotate a secret (shown once),
// delete.
func init() {
	Register(&Page{
		Name: "clients", Title: "Clients", Nav: 10,
		Template: clientsTemplate,
		Routes: func(r Routes) {
			r.Get("/clients", listClients)
		},
	})
}

const clientsTemplate = `{{define "content"}}
<form class="search" method="get" action="{{path "clients"}}" role="search">
  <label for="client-q">Find a client</label>
  <input type="search" id="client-q" name="q" value="{{.Data.Query}}" placeholder="client id or name">
  <button type="submit">Search</button>
</form>
<div class="table-wrap"><table>
<caption class="muted">{{len .Data.Clients}} client(s)</caption>
<thead><tr><th scope="col">Client</th><th scope="col">Name</th><th scope="col">Authentication</th><th scope="col">Sender constraint</th><th scope="col">Scopes</th></tr></thead>
<tbody>{{range .Data.Clients}}<tr>
  <td><a href="{{path "clients" .ID}}"><code>{{.ID}}</code></a>{{if .Static}} <span class="tag">declared</span>{{end}}</td>
  <td>{{.Name}}</td><td>{{.AuthMethod}}</td><td>{{.SenderConstraint}}</td><td>{{join .Scopes " "}}</td>
</tr>{{else}}<tr><td colspan="5">No client matches.</td></tr>{{end}}</tbody>
</table></div>
{{end}}`

type clientList struct {
	Query   string
	Clients []*store.Client
}

func listClients(c *Call) error {
	all, err := c.Store().ListClients(c.R.Context())
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(c.R.URL.Query().Get("q")))
	out := clientList{Query: q}
	for _, cl := range all {
		if q == "" || strings.Contains(strings.ToLower(cl.ID), q) || strings.Contains(strings.ToLower(cl.Name), q) {
			out.Clients = append(out.Clients, cl)
		}
	}
	slices.SortFunc(out.Clients, func(a, b *store.Client) int { return strings.Compare(a.ID, b.ID) })
	return c.Render(http.StatusOK, out)
}
