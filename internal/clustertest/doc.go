// Package clustertest is the clients' side of the tests that run several
// Ward authorization servers and gateways together (test/multiinstance,
// in one process; test/multiprocess and test/crash, as processes): token
// requests with DPoP proofs and server nonces, API calls through the
// gateways, introspection, and a browser that signs in and consents.
//
// A test decides which instance answers each request by the Sender it
// passes: an HTTP client routed to one listener, or a load balancer told
// which backend to use. Nothing here is meant for production.
package clustertest
