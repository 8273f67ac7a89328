// Package config loads and validates the YAML configuration of the Ward
// authorization server.
//
// [Load] reads a file over the defaults of [Default], applies the
// environment overrides ([Config.ApplyEnv], the one place the environment
// is read) and validates everything ([Config.Validate]) before anything
// starts. Every problem is reported at once, each naming the file, line
// and key path:
//
//	ward.yaml:3: unknown key "isuer" (did you mean "issuer"?)
//	ward.yaml:7: tokens.access_token_ttl: "10x" is not a duration (use units ms, s, m, h or d, e.g. 10m)
//	ward.yaml:20: clients[0].grant_types[1]: the password grant was removed in OAuth 2.1; use authorization_code with PKCE
//
// Load stops at the first phase that fails (YAML, keys and types,
// environment, validation). [Check], behind `ward config check`, goes on
// past each phase's errors, a YAML syntax error included, and reports
// every problem sorted by line.
//
// Errors are [*Error] values unwrapping to the sentinels [ErrSyntax],
// [ErrUnknownKey], [ErrInvalidValue] and [ErrMissing].
//
// Durations are Go durations (90s, 10m, 1h30m) or whole days (30d).
// docs/CONFIG.md lists every key; ward.example.yaml at the repository root
// is a complete example.
//
// The gateway's section will be added as another field of [Config]: the
// decoder follows the yaml struct tags, so a new section needs only its
// struct, its defaults in [Default] and its checks in Validate.
package config
