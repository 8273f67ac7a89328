package main

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"strings"

	"github.com/wardauth/ward/client"
	"github.com/wardauth/ward/dpop"
)

func init() {
	register(command{name: "proof", summary: "print a fresh DPoP proof for a request, for use with other tools", run: runProof})
}

func runProof(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("proof", "proof [--key-file F] [--token T] [--nonce N] METHOD URL", stderr)
	keyFile := fs.String("key-file", "", "sign with the DPoP key in this file (created 0600 if absent, as ward token --key-file does); default: a new key in memory")
	token := fs.String("token", "", "the access token the request carries: the proof gets its hash (ath, RFC 9449 §4.2)")
	nonce := fs.String("nonce", "", "the server's DPoP-Nonce to include (RFC 9449 §8)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	key, err := proofKey(*keyFile)
	if err != nil {
		return err
	}
	s, err := dpop.NewSigner(key)
	if err != nil {
		return err
	}
	var opts []dpop.ProofOption
	if *token != "" {
		opts = append(opts, dpop.WithAccessToken(strings.TrimPrefix(*token, "DPoP ")))
	}
	if *nonce != "" {
		opts = append(opts, dpop.WithNonce(*nonce))
	}
	p, err := s.Proof(strings.ToUpper(fs.Arg(0)), fs.Arg(1), opts...)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, p)
	if *keyFile == "" {
		fmt.Fprintf(stderr, "ward: signed with a new in-memory key (jkt=%s); a token bound to another key refuses it: give --key-file\n", s.Thumbprint())
	}
	return nil
}

// proofKey is the key of keyFile (created if absent), or a new one.
func proofKey(keyFile string) (crypto.Signer, error) {
	if keyFile != "" {
		return client.LoadOrCreateKey(keyFile)
	}
	return dpop.GenerateKey(dpop.ES256)
}
