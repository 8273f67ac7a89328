package console

import "net/http"

// The home page: where the console starts, a map of the other pages.
func init() {
	Register(&Page{
		Name: "home", Title: "Ward console",
		Template: `{{define "content"}}<p>Signed in as <strong>{{.Operator.Username}}</strong>. Every change made here is recorded as a security event naming you.</p>
<ul>{{range .Nav}}<li><a href="{{.Href}}">{{.Title}}</a></li>{{end}}</ul>{{end}}`,
		Routes: func(r Routes) {
			r.Get("/home", func(c *Call) error { return c.Render(http.StatusOK, nil) })
		},
	})
}
