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

// Check reports every problem at once: the tab on line 4 does not hide
// the typo and the value after it.
func ExampleCheck() {
	_, err := config.Check("ward.yaml", []byte(`issuer: https://auth.example.com
tls: {cert_file: /etc/ward/tls.crt, key_file: /etc/ward/tls.key}
keys:
	kek_file: /etc/ward/kek
tokenz: {}
par: {ttl: 1h}
`), func(string) (string, bool) { return "", false })
	for _, p := range config.Problems(err) {
		fmt.Println(p)
	}
	// Output:
	// ward.yaml:3: keys.kek_file: required unless WARD_KEY_ENCRYPTION_KEY is set
	// ward.yaml:4: found character that cannot start any token (line 4 is indented with a tab: YAML allows only spaces for indentation); the rest of the file was checked without this line
	// ward.yaml:5: unknown key "tokenz" (did you mean "tokens"?)
	// ward.yaml:6: par.ttl: 1h0m0s exceeds the maximum of 10m0s
}
