package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// startOIDCProvider starts node-oidc-provider (interop/oidc-provider.mjs,
// the provider test/interop runs against: DPoP with nonces required, its
// in-memory adapter, opaque access tokens for client_credentials without
// a resource indicator) and returns the process, its issuer and the
// secret of its confidential client svc (client_secret_basic, scope
// read). The script stops when its standard input closes, so the pipe
// is left open until the process is killed.
func startOIDCProvider(node string) (*exec.Cmd, string, string, error) {
	cmd := exec.Command(node, filepath.Join("interop", "oidc-provider.mjs"))
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, "", "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", "", fmt.Errorf("%s interop/oidc-provider.mjs (run from the repository root, after npm ci --prefix interop): %w", node, err)
	}
	var start struct {
		Issuer    string `json:"issuer"`
		SvcSecret string `json:"svc_secret"`
		Version   string `json:"version"`
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &start)
	}
	if err != nil {
		cmd.Process.Kill()
		return nil, "", "", fmt.Errorf("oidc-provider's first line %q: %w", line, err)
	}
	fmt.Fprintf(os.Stderr, "oidc-provider %s at %s\n", start.Version, start.Issuer)
	return cmd, start.Issuer, start.SvcSecret, nil
}
