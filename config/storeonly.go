package config

import (
	"fmt"
	"os"
)

// LoadStoreOnly is Load for a command that uses only the store (`ward
// client`, `ward user`, `ward keys list`): every key is decoded and
// validated as for `ward serve`, but the runtime secrets such a command
// never uses may be absent — the key-encryption key (keys.kek_file,
// WARD_KEY_ENCRYPTION_KEY), the DPoP nonce secret (dpop.nonce.secret_file,
// WARD_DPOP_NONCE_SECRET), and the variables named by clients' secret_env
// and users' password_env. A secret that is given is still checked. The
// result must not be used to serve: a command needing a secret it let
// through (`ward keys rotate` needs the KEK) fails when it reads it.
func LoadStoreOnly(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := Default()
	c.storeOnly = true
	if err := c.Decode(path, data); err != nil {
		return nil, err
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
