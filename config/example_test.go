package config_test

import (
	"fmt"

	"github.com/wardauth/ward/config"
)

func Example() {
	c := config.Default()
	err := c.Decode("ward.yaml", []byte(`issuer: https://auth.example.com
behind_tls_proxy: {trusted_proxies: [10.0.0.0/8]}
keys: {kek_file: /etc/ward/kek}
tokens:
  acces_token_ttl: 5m
`))
	fmt.Println(err)

	c = config.Dev("data")
	fmt.Println(c.Issuer, c.Validate())
	// Output:
	// ward.yaml:5: unknown key "acces_token_ttl" in tokens (did you mean "access_token_ttl"?)
	// http://127.0.0.1:9000 <nil>
}
