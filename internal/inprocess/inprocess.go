// Package inprocess marks requests that one part of a Ward process sends
// to another through an in-process transport (the admin console's calls
// to the authorization server), so that defences aimed at network
// clients, such as blocking an address, are not applied to the process
// itself. Only code in the process can set the mark: it lives in the
// request's context, never in anything a client sends.
package inprocess

import "context"

type key struct{}

// With returns ctx marked as an in-process request.
func With(ctx context.Context) context.Context { return context.WithValue(ctx, key{}, true) }

// Is reports whether ctx was marked by With.
func Is(ctx context.Context) bool { v, _ := ctx.Value(key{}).(bool); return v }
