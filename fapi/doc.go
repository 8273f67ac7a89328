// Package fapi holds the FAPI 2.0 profiles Ward can enforce: their names,
// the values they lock (client authentication methods, sender constraints,
// JOSE algorithms, lifetimes, clock skew) and the table of features the
// profiles need, so that a profile whose feature this build lacks refuses
// to start instead of pretending (docs/FAPI2.md).
//
// The profiles are FAPI 2.0 Security Profile (Final, 2025) and FAPI 2.0
// Message Signing (Final, 2025), which builds on it. Package config refuses
// a configuration that contradicts a profile; package authz enforces the
// rest per request.
package fapi
