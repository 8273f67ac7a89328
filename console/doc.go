// Package console is Ward's admin console (docs/CONSOLE.md): pages for an
// operator, served by the authorization server under console.path_prefix
// (default /console).
//
// The console logs its operators in through Ward itself: it is a
// backend-for-frontend site (package bff) of the console's own
// confidential client, so the browser holds only an HttpOnly session
// cookie, every call carries the BFF's CSRF defence (X-Ward-CSRF and
// Fetch Metadata), and the access token is DPoP-bound. The pages are a
// static shell and one small script (no inline script, a strict CSP with
// Trusted Types); the script asks the admin API, through the BFF's
// /bff/api forwarding, for each page as an HTML fragment rendered and
// escaped here by html/template, and submits the pages' forms the same
// way.
//
// The admin API verifies every call with package resource (a DPoP-bound
// token of the console's client, scope ward:admin, audience the API) and
// then, on every call, reads the user's record and requires the admin
// role (console.admin_role in the user's roles). Each change it makes is
// a security event with the operator as its actor.
//
// A page is one file: a Page value with its template and its routes,
// registered with Register from the file's init (page.go, docs/CONSOLE.md
// "Adding a page").
package console
