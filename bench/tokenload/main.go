// Command tokenload measures Ward's token endpoint: client-credentials
// tokens with a fresh DPoP proof each, over loopback.
//
// It builds and starts `ward serve --dev` in a temporary folder, makes one
// unique proof per request before the clock starts (so the generator's
// signing does not compete with the server for the CPU during the run),
// then sends them from -workers goroutines for -duration. It reports
// tokens/s, the server's CPU time per token (from /proc/PID/stat), latency
// percentiles, and — measured in the same run — the cost of one bare P-256
// verify plus one sign, the floor of what issuing a DPoP-bound token costs.
//
// -store sqlite or -store postgres runs `ward serve --config` with a file
// the tool writes instead (issuer https on loopback behind_tls_proxy,
// one static confidential client): sqlite in the temporary folder, or a
// fresh schema on -postgres, dropped afterwards. -redis ADDR adds the
// redis section (DPoP replay checks and rate limits in Redis).
//
// -instances N (with -store postgres) starts N such servers on different
// ports, sharing the schema, Redis, the issuer name and the secrets (KEK,
// flow key, nonce secret), as instances behind one load balancer do. The
// tool is the balancer: request i goes to instance i mod N, its proof
// naming the shared issuer. Server CPU is the sum over the instances.
//
// -oidc-provider measures node-oidc-provider instead of Ward, with the
// same load, proofs and bare loop: interop/oidc-provider.mjs (run from
// the repository root; npm ci --prefix interop), its confidential client
// svc, scope read, opaque access tokens from its in-memory adapter, a
// DPoP nonce on every proof (learnt in the warm-up, as for Ward). Node
// runs the provider on one thread, so compare CPU per token, not tokens/s.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/wardauth/ward/bench/internal/measure"
	"github.com/wardauth/ward/oauth"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardauth/ward/bench/internal/benchcfg"
	"github.com/wardauth/ward/dpop"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long to send requests")
	workers := flag.Int("workers", 32, "concurrent requests")
	maxRequests := flag.Int("max", 200_000, "upper bound on requests (proofs are made in advance)")
	binary := flag.String("ward", "", "ward binary (default: go build ./cmd/ward)")
	cpuprofile := flag.String("cpuprofile", "", "write the server's CPU profile (whole run; the first instance) to this file")
	storeKind := flag.String("store", "dev", "dev (ward serve --dev, SQLite), sqlite or postgres (ward serve --config with a generated file)")
	pgDSN := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL for -store postgres (a fresh schema is used)")
	redisAddr := flag.String("redis", "", "Redis host:port for the redis section (not with -store dev)")
	instances := flag.Int("instances", 1, "ward instances sharing the store and Redis, requests round-robin (more than 1 needs -store postgres)")
	oidcProvider := flag.Bool("oidc-provider", false, "measure node-oidc-provider (interop/oidc-provider.mjs) instead of ward")
	node := flag.String("node", "node", "with -oidc-provider: the node binary")
	serverLog := flag.String("server-log", "", "append the servers' standard output and error to this file (default: discarded)")
	flag.Parse()
	if *instances < 1 || (*instances > 1 && *storeKind != "postgres") {
		log.Fatal("-instances: at least 1; more than 1 needs -store postgres")
	}

	tmp, err := os.MkdirTemp("", "ward-tokenload-")
	check(err)
	defer os.RemoveAll(tmp)
	bin := *binary
	if bin == "" && !*oidcProvider {
		bin = filepath.Join(tmp, "ward")
		out, err := exec.Command("go", "build", "-o", bin, "./cmd/ward").CombinedOutput()
		if err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	var creds struct {
		Issuer  string `json:"issuer"`
		Service struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
			Scope        string `json:"scope"`
		} `json:"confidential_client"`
	}
	argss := [][]string{{"serve", "--dev", "--data", filepath.Join(tmp, "data")}}
	env := os.Environ()
	bases := []string{""} // where requests go when it differs from the issuer
	if *storeKind != "dev" {
		fc, err := benchcfg.Write(tmp, benchcfg.Options{Store: *storeKind, Postgres: *pgDSN, Redis: *redisAddr, Instances: *instances})
		check(err)
		defer fc.Cleanup()
		argss, bases, env = nil, nil, append(env, fc.Env...)
		for _, in := range fc.Instances {
			argss = append(argss, []string{"serve", "--config", in.Path})
			bases = append(bases, in.Base)
		}
		creds.Issuer = fc.Issuer
		creds.Service.ClientID, creds.Service.ClientSecret = fc.ClientID, fc.Secret
	} else if *redisAddr != "" {
		log.Fatal("-redis needs -store sqlite or postgres")
	}
	scope, metadata := "demo:read", "/.well-known/oauth-authorization-server"
	if *oidcProvider {
		argss, bases = nil, []string{""}
		scope, metadata = "read", "/.well-known/openid-configuration"
		creds.Service.ClientID = "svc"
	}
	// One after another, so that the first creates the schema and the
	// signing key and the others find them.
	var srvs []*exec.Cmd
	if *oidcProvider {
		op, issuer, secret, err := startOIDCProvider(*node)
		check(err)
		defer op.Process.Kill()
		srvs = append(srvs, op)
		creds.Issuer, creds.Service.ClientSecret = issuer, secret
		waitFor(func() bool { return getOK(creds.Issuer + metadata) })
	}
	for i, args := range argss {
		srv := exec.Command(bin, args...)
		srv.Stdout, srv.Stderr = io.Discard, io.Discard
		if *serverLog != "" {
			f, err := os.OpenFile(*serverLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			check(err)
			defer f.Close()
			srv.Stdout, srv.Stderr = f, f
		}
		srv.Env = env
		if *cpuprofile != "" && i == 0 {
			abs, err := filepath.Abs(*cpuprofile)
			check(err)
			srv.Env = append(srv.Env, "WARD_CPUPROFILE="+abs)
		}
		check(srv.Start())
		defer srv.Process.Kill()
		srvs = append(srvs, srv)
		base := bases[i]
		waitFor(func() bool {
			if base == "" {
				b, err := os.ReadFile(filepath.Join(tmp, "data", "dev-credentials.json"))
				if err != nil || json.Unmarshal(b, &creds) != nil {
					return false
				}
			}
			return getOK(orIssuer(base, creds.Issuer) + metadata)
		})
	}
	serverCPU := func() time.Duration {
		var sum time.Duration
		for _, srv := range srvs {
			sum += measure.ProcCPU(srv.Process.Pid)
		}
		return sum
	}
	htu := creds.Issuer + "/token"
	tokenURLs := make([]string, len(bases))
	for i, base := range bases {
		tokenURLs[i] = orIssuer(base, creds.Issuer) + "/token"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers * 2, MaxConnsPerHost: *workers * 2}}
	body := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {scope}}.Encode()

	// One key, as a real client has; a unique proof per request.
	key, err := dpop.GenerateKey(dpop.ES256)
	check(err)
	signer, err := dpop.NewSigner(key)
	check(err)
	// Warm up every instance, and learn a nonce if the server asks for
	// one (the instances share the nonce secret, so one nonce serves all).
	nonce := ""
	for _, tokenURL := range tokenURLs {
		for i := 0; i < 3; i++ {
			p, _ := signer.Proof("POST", htu, dpop.WithNonce(nonce))
			code, n := post(client, tokenURL, body, creds.Service.ClientID, creds.Service.ClientSecret, p)
			if n != "" {
				nonce = n
			}
			if code == 200 {
				break
			}
		}
	}
	n := min(*maxRequests, int(duration.Seconds()*40_000))
	fmt.Fprintf(os.Stderr, "making %d proofs...\n", n)
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i], err = signer.Proof("POST", htu, dpop.WithNonce(nonce))
		check(err)
	}

	cpu0 := serverCPU()
	var next, ok, failed atomic.Int64
	var failedMu sync.Mutex
	failedCodes := map[int]int{} // status (0: no answer) → count
	lat := make([][]time.Duration, *workers)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if int(i) >= len(proofs) {
					return
				}
				t0 := time.Now()
				code, _ := post(client, tokenURLs[int(i)%len(tokenURLs)], body, creds.Service.ClientID, creds.Service.ClientSecret, proofs[i])
				lat[w] = append(lat[w], time.Since(t0))
				if code == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					failedMu.Lock()
					failedCodes[code]++
					failedMu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := serverCPU() - cpu0

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	bare := measure.BareVerifySign(2 * time.Second)
	tokens := ok.Load()
	perToken := time.Duration(0)
	if tokens > 0 {
		perToken = cpu / time.Duration(tokens)
	}
	la, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %d CPUs, load average %s\n", runtime.NumCPU(), strings.Join(strings.Fields(string(la))[:3], " "))
	fmt.Printf("requests: %d ok, %d failed in %v with %d workers, %d instance(s)\n", tokens, failed.Load(), elapsed.Round(time.Millisecond), *workers, len(srvs))
	if len(failedCodes) > 0 {
		fmt.Printf("failures by status (0: no answer): %v\n", failedCodes)
	}
	fmt.Printf("throughput: %.0f tokens/s\n", float64(tokens)/elapsed.Seconds())
	fmt.Printf("latency: p50 %v  p99 %v\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	fmt.Printf("server CPU per token (all instances): %v\n", perToken.Round(time.Microsecond))
	fmt.Printf("bare P-256 verify + sign (same run): %v\n", bare.Round(time.Microsecond))
	if bare > 0 {
		fmt.Printf("ratio server CPU per token / (verify + sign): %.2f\n", float64(perToken)/float64(bare))
	}
	if *cpuprofile != "" {
		// A clean shutdown, so the server writes its profile.
		srvs[0].Process.Signal(os.Interrupt)
		srvs[0].Wait()
		fmt.Printf("server CPU profile: %s\n", *cpuprofile)
	}
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

func post(c *http.Client, u, body, id, secret, proof string) (int, string) {
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	req.Header.Set("DPoP", proof)
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("DPoP-Nonce")
}

// getOK tells whether GET u answers 200.
func getOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func waitFor(f func() bool) {
	for i := 0; i < 300; i++ {
		if f() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatal("the server did not start")
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// orIssuer returns base when set, else issuer.
func orIssuer(base, issuer string) string {
	if base != "" {
		return base
	}
	return issuer
}
