package main

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/wardauth/ward/server"
)

// devCredentials is <data>/dev-credentials.json, written by
// `ward serve --dev` and read by `ward token --dev`.
type devCredentials = server.DevCredentials

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
