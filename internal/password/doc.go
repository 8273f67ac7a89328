// Package password hashes user passwords with argon2id (RFC 9106) and
// encodes them in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// where salt and hash are unpadded standard base64, as the PHC format
// specifies. The default parameters are the OWASP Password Storage Cheat
// Sheet's argon2id recommendation (19 MiB memory, 2 iterations, 1 lane).
//
// [Verify] parses stored hashes strictly and refuses parameters outside fixed
// bounds, so a corrupted or hostile database value cannot make the server
// allocate gigabytes or spin for minutes. [DummyVerify] spends the same time
// as a real verification, so the login handler can call it for unknown users
// and not reveal which usernames exist through response timing.
package password
