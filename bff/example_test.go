package bff_test

import (
	"fmt"
	"log"

	"github.com/wardauth/ward/bff"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/gateway"
)

// A BFF site for a single-page app at https://app.example.com, served by
// the gateway as a mount: the app calls /bff/api/orders, and the BFF
// forwards it to https://api.example.com/v1/orders with the user's
// DPoP-bound token.
func Example() {
	site, err := bff.New(config.BFF{
		Name:      "shop",
		PublicURL: "https://app.example.com",
		ClientID:  "shop-bff",
		Scopes:    []string{"orders:read"},
		Resource:  "https://api.example.com",
		API:       "https://api.example.com/v1",
	}, bff.Options{
		Issuer:       "https://as.example.com",
		ClientSecret: "the client's secret, read from client_secret_file",
	})
	if err != nil {
		log.Fatal(err)
	}
	mount := gateway.Mount{Name: "bff-" + site.Name(), Host: site.Host(), PathPrefix: site.Prefix(), Handler: site}
	fmt.Println(mount.Host, mount.PathPrefix, site.SessionCookie())
	// Output: app.example.com /bff __Host-ward-bff-shop
}
