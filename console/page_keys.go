package console

import (
	"net/http"

	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/secevent"
)

// The signing keys page: the keys with their state, and rotation (a new
// key published now, signing once every cache has it: keys.Manager.Rotate).
func init() {
	Register(&Page{
		Name: "keys", Title: "Signing keys", Nav: 30,
		Template: keysTemplate,
		Routes: func(r Routes) {
			r.Get("/keys", listKeys)
			r.Post("/keys/rotate", rotateKeys)
		},
	})
}

const keysTemplate = `{{define "content"}}
<p class="muted">Ward signs tokens with the active key; the others are published in the JWKS until every token they signed has expired.</p>
<div class="table-wrap"><table>
<caption class="muted">{{len .Data}} key(s), oldest first</caption>
<thead><tr><th scope="col">Key id</th><th scope="col">State</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">Signs from</th><th scope="col">Retires</th><th scope="col">Removed</th></tr></thead>
<tbody>{{range .Data}}<tr>
  <td><code>{{.ID}}</code></td><td><span class="tag">{{.State}}</span></td><td>{{.Algorithm}}</td>
  <td>{{time .CreatedAt}}</td><td>{{time .ActivatesAt}}</td><td>{{time .RetiresAt}}</td><td>{{time .ExpiresAt}}</td>
</tr>{{end}}</tbody>
</table></div>
<form class="panel" method="post" action="{{path "keys" "rotate"}}" data-confirm="Rotate the signing key now?">
  <h2>Rotate</h2>
  <p>A new key is published at once and signs after the key-cache delay; the current key retires then and stays published until its tokens expire.</p>
  <button type="submit">Rotate the signing key</button>
</form>
{{end}}`

func listKeys(c *Call) error {
	ks, err := keys.List(c.R.Context(), c.Store(), c.Now())
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, ks)
}

func rotateKeys(c *Call) error {
	k, err := c.api.o.Keys.Rotate(c.R.Context(), c.Now())
	if err != nil {
		return err
	}
	c.Event(secevent.KeyChanged, secevent.Event{Reason: "rotated"})
	c.Notice("New key %s (%s) published; it signs from %s.", k.ID, k.Algorithm, k.ActivatesAt.UTC().Format("15:04:05 UTC"))
	c.Location("keys")
	return listKeys(c)
}
