// Package browser runs Ward's backend-for-frontend in a real browser:
// `ward serve --dev` as a user starts it, and Debian's chromium driven by
// playwright-core (npm, pinned in package.json) through the demo app's
// login, API call, token-reachability checks, cross-site attempts and
// logout (bff.mjs). Screenshots of each step go to
// test-artifacts/browser/ (or $WARD_TEST_ARTIFACTS).
//
// The test skips with a message saying what is missing when node, the npm
// packages (npm ci --prefix test/browser) or chromium are absent, and
// fails instead when WARD_TEST_REQUIRE_BROWSER=1 (as .ci/run sets it when
// it could install them).
package browser
