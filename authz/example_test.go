package authz_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/wardauth/ward/authz"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/keys"
	"github.com/wardauth/ward/store"
	"github.com/wardauth/ward/store/sqlstore"
)

// Example builds a server on SQLite, registers a client with a generated
// secret and serves the metadata document.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ward-example")
	defer os.RemoveAll(dir)

	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "ward.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	var kek keys.KEK
	_, _ = rand.Read(kek[:])
	km, err := keys.New(st, []keys.KEK{kek}, keys.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := km.EnsureKey(ctx, time.Now()); err != nil {
		log.Fatal(err)
	}

	cfg := config.Default()
	cfg.Issuer = "https://auth.example"
	srv, err := authz.New(cfg, authz.Options{Store: st, Keys: km})
	if err != nil {
		log.Fatal(err)
	}
	secret, err := authz.CreateClient(ctx, st, &store.Client{
		ID: "billing", AuthMethod: oauth.AuthSecretBasic,
		GrantTypes: []oauth.GrantType{oauth.GrantClientCredentials},
		Audiences:  []string{"https://api.example"},
	}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("secret length:", len(secret)) // 256 bits, base64url

	// go srv.Run(ctx) sweeps expired rows and rotates keys.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", authz.PathMetadata, nil))
	fmt.Println(rec.Code, srv.Metadata().TokenEndpoint)
	// Output:
	// secret length: 43
	// 200 https://auth.example/token
}
