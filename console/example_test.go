package console_test

import (
	"fmt"
	"net/http"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/console"
)

// The console's client, as Ward declares it at start: its redirect URI
// and audience follow from the issuer and the prefix.
func ExampleClientFor() {
	c := console.ClientFor(config.Console{Enabled: true}, "https://auth.example.com")
	fmt.Println(c.ID, c.Scopes, c.SenderConstraint)
	fmt.Println(c.RedirectURIs[0])
	fmt.Println(c.Audiences[0])
	// Output:
	// ward-console [ward:admin] dpop
	// https://auth.example.com/console/bff/callback
	// https://auth.example.com/console/admin-api
}

// A page is one file: its place in the navigation, its template and its
// routes, registered from the file's init.
func ExampleRegister() {
	console.Register(&console.Page{
		Name: "example", Title: "Example", Nav: 90,
		Template: `{{define "content"}}<p>Hello, {{.Operator.Username}}: {{.Data}}</p>{{end}}`,
		Routes: func(r console.Routes) {
			r.Get("/example", func(c *console.Call) error { return c.Render(http.StatusOK, "nothing to see") })
		},
	})
}
