// Command gatewayload measures Ward's gateway (issue 4): requests with the
// same DPoP-bound access token and a fresh proof each, over loopback,
// through the gateway to a trivial upstream, next to the same load sent to
// the bare upstream and a bare ECDSA P-256 verify loop, all in one run.
//
// It builds and starts `ward serve --dev` (the authorization server) in a
// temporary folder, gets one access token for the dev confidential client
// (client_credentials with DPoP), and starts two child processes of its
// own binary, so that each one's CPU can be read from /proc:
//
//   - upstream: a trivial HTTP server answering 200 "ok";
//   - gateway: package gateway, built as `ward serve` builds it (JWKS found
//     by RFC 8414 discovery from the dev issuer, in-memory replay store,
//     its own http.Server with the configured limits), one route /api/ to
//     the upstream with an allow-any-client policy.
//
// Phases, each -duration long: (1) peak, closed loop with -workers: the
// bare upstream, then the gateway; (2) half of the gateway's peak rate
// (-half FRACTION for another fraction), open loop (latency counted from
// the scheduled send time): the gateway, then the bare upstream at the
// same rate. Proofs are made before each gateway phase, so the
// generator's signing does not compete with the measured processes.
//
// The load generator shares the machine with what it measures, so its
// own CPU is kept low and reported. By default (-client raw) the phases
// use a lean HTTP/1.1 client (rawclient.go, rawload.go): requests
// serialized before the phase (GET, Host, User-Agent, Authorization: DPoP
// and DPoP headers), keep-alive connections dialed before the phase, one
// goroutine per connection that writes a request and reads its answer
// (status line, head, body discarded by Content-Length or chunked coding;
// an answer with neither is refused as a failure, a non-200 is a failure,
// a read or write error is a failure and the connection is dialed again,
// Connection: close is honoured; no retries). The closed loop runs
// -workers connections; the open loop -open-conns (64) connections whose
// goroutines each take the next slot of the schedule when free, so a slot
// that finds every connection busy waits, and the wait is in its latency.
// The open loop's slots are paced (pacer.go) by -pacer precise (default):
// one goroutine locked to its OS thread sleeps until each slot's absolute
// time with clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), timer slack
// 1 ns, and hands the slot to a free connection's goroutine over a
// channel; a slot already due is handed at once; nothing spins. -pacer
// sleep is the former pacing, to compare: each connection's goroutine
// claims the next slot and time.Sleeps until its time, which, when the
// runtime is idle, ends on a netpoll timeout in whole milliseconds (sends
// go out in clumps about 1 ms apart, around 0.5 ms late at the median,
// and that lateness is in the latency of the gateway and of the bare
// upstream alike). Evenly paced slots cost more CPU per request than
// clumped ones wherever the runtime would otherwise be idle: each slot
// wakes the pacer's thread and a connection's goroutine, and each request
// wakes the upstream on its own (at half load, the bare upstream's CPU
// per request was about twice the sleep pacer's, and the generator's
// about 1.6 times), so open-loop CPU figures are compared within one
// pacer. -client nethttp uses net/http's client instead (-workers
// goroutines; in the open loop a time.Sleep dispatcher and 256 sender
// goroutines, whatever -pacer says), to compare.
//
// -redis ADDR gives the gateway child a Redis replay store
// (store/redisstore, as `ward serve` with the redis section: every proof is
// one SET NX round trip) instead of the in-memory one.
//
// -gateways N (with -redis when N > 1) starts N gateway children sharing
// one Redis key prefix, so a proof used at one is refused at another, and
// one public URL (the first child's address, as a load balancer in front
// would give: every proof's htu names it, each child listens on its own
// port). Requests go round-robin to the children, and "gateway CPU" is the
// sum of their CPU. Before measuring, a proof used at the first gateway is
// replayed at the second and must be refused.
//
// -front nginx (front.go, nginx.go) measures instead, in -rounds
// alternating rounds of closed loops at peak: the bare upstream, nginx
// alone (proxy_pass), nginx with auth_request to Ward's forward-auth
// endpoint (a gateway child with gateway.authorizer on its own listener,
// trusting 127.0.0.1/32; proofs name nginx's URL) and Ward's gateway, the
// CPU per request of each process (nginx: master and its one worker), the
// medians and ranges, and each as a ratio to a bare verify of its round.
//
// Reported: the pacer each open-loop phase ran with (one header line); per
// phase, requests/s, p50/p99, errors, and the CPU per request of the
// gateway, the upstream and the generator itself (each process's CPU from
// /proc); a latency table with p50, p90, p99, p99.9, max, and for the open
// loop the p99 of how late requests started after their scheduled time
// (the generator's lateness and the wait for a free connection); the
// gateway's CPU per request and its ratio to one bare verify (target ≤ 2);
// and the p99 the gateway adds at half of peak load (target < 1 ms), the
// gateway's p99 less the bare upstream's at the same rate. With failures,
// the first one's reason per phase, and exit status 1.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/wardauth/ward/oauth"
	"io"
	"log"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/wardauth/ward/bench/internal/benchcfg"
	"github.com/wardauth/ward/bench/internal/measure"
	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/dpop"
	"github.com/wardauth/ward/gateway"
	"github.com/wardauth/ward/store/redisstore"
)

func main() {
	role := flag.String("role", "", "internal: run as the upstream or gateway child")
	issuer := flag.String("issuer", "", "internal (gateway): the issuer")
	issuerBase := flag.String("issuer-base", "", "internal (gateway): where the issuer's https URLs are served over plain HTTP")
	devAS := flag.Bool("dev", false, "run the authorization server as ward serve --dev (fixed ports 9000-9002) instead of ward serve --config with a generated file on a free port")
	audience := flag.String("audience", "", "internal (gateway): the token audience")
	upstream := flag.String("upstream", "", "internal (gateway): the upstream URL")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase")
	workers := flag.Int("workers", 32, "concurrent requests in the peak phases")
	maxRequests := flag.Int("max", 150_000, "upper bound on requests per gateway phase (proofs are made in advance)")
	binary := flag.String("ward", "", "ward binary (default: go build ./cmd/ward)")
	cpuprofile := flag.String("cpuprofile", "", "write the gateway process's CPU profile (whole run) to this file")
	profPhase := flag.String("cpuprofile-phase", "", "with -cpuprofile: profile only the gateway's peak or half (open-loop) phase: peak|half")
	redisAddr := flag.String("redis", "", "Redis host:port for the gateway's DPoP replay store (default in memory)")
	redisPrefix := flag.String("redis-prefix", "", "internal (gateway): the Redis key prefix shared by the gateways")
	publicURL := flag.String("public-url", "", "internal (gateway): the public URL shared by the gateways (default: its own address)")
	gateways := flag.Int("gateways", 1, "gateway instances sharing the replay store and public URL, requests round-robin (> 1 needs -redis)")
	gogc := flag.String("gogc", "400", "GOGC of the gateway children (400: what ward serve sets unless GOGC is given)")
	pin := flag.Bool("pin", false, "pin the gateway children to CPU 1 and this generator and the upstream to CPU 0 (taskset), so the gateway's latency is not the scheduler's")
	clientKind := flag.String("client", "raw", "load generator's HTTP client in the measured phases: raw (lean HTTP/1.1, one goroutine per connection) or nethttp (net/http's client)")
	openConns := flag.Int("open-conns", 64, "connections of the raw client in the open-loop phases (to each gateway)")
	half := flag.Float64("half", 0.5, "rate of the open-loop phases as a fraction of the gateway's peak rate")
	authorizerRole := flag.Bool("authorizer", false, "internal (gateway): also serve the forward-auth endpoint on its own listener, trusting 127.0.0.1")
	frontKind := flag.String("front", "", "nginx: measure nginx alone and nginx with auth_request to Ward's authorizer next to the bare upstream and Ward's gateway, in alternating rounds (closed loop at peak)")
	rounds := flag.Int("rounds", 3, "with -front: rounds of the four phases")
	nginxBin := flag.String("nginx", "/usr/sbin/nginx", "with -front nginx: the nginx binary")
	nginxKeepalive := flag.Int("nginx-keepalive", 32, "with -front nginx: idle keep-alive connections nginx keeps to the upstream and to Ward (0: nginx's default, a new HTTP/1.0 connection per request and check)")
	pacerKind := flag.String("pacer", pacerPrecise, "raw client's open-loop pacer: precise (clock_nanosleep on a locked OS thread) or sleep (time.Sleep in each connection's goroutine, millisecond-coarse when the runtime is idle)")
	flag.Parse()

	switch *role {
	case "upstream":
		runUpstream()
		return
	case "gateway":
		runGateway(*issuer, *issuerBase, *audience, *upstream, *cpuprofile, *redisAddr, *redisPrefix, *publicURL, *authorizerRole)
		return
	}
	if *gateways < 1 || *gateways > 1 && *redisAddr == "" {
		log.Fatal("-gateways must be 1, or more with -redis (the gateways must share the replay store)")
	}
	if *clientKind != "raw" && *clientKind != "nethttp" {
		log.Fatal("-client must be raw or nethttp")
	}
	if *pacerKind != pacerPrecise && *pacerKind != pacerSleep {
		log.Fatal("-pacer must be precise or sleep")
	}
	if *openConns < 1 || *workers < 1 {
		log.Fatal("-open-conns and -workers must be at least 1")
	}
	if !(*half > 0 && *half <= 1) {
		log.Fatal("-half must be in (0, 1]")
	}
	if *frontKind != "" && (*frontKind != "nginx" || *clientKind != "raw" || *gateways != 1 || *pin || *cpuprofile != "" || *rounds < 1) {
		log.Fatal("-front must be nginx, with the raw client, one gateway, no -pin or -cpuprofile, and -rounds at least 1")
	}

	if *pin {
		if runtime.NumCPU() < 2 {
			log.Fatal("-pin needs at least 2 CPUs")
		}
		pinSelf(0)
	}
	tmp, err := os.MkdirTemp("", "ward-gatewayload-")
	check(err)
	defer os.RemoveAll(tmp)
	bin := *binary
	if bin == "" {
		bin = filepath.Join(tmp, "ward")
		out, err := exec.Command("go", "build", "-o", bin, "./cmd/ward").CombinedOutput()
		if err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	var creds struct {
		Issuer     string `json:"issuer"`
		GatewayURL string `json:"gateway_url"`
		Service    struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"confidential_client"`
	}
	// base is where the issuer's requests go when the issuer is https
	// behind a (pretended) TLS proxy: the generated configuration.
	base := ""
	as := exec.Command(bin, "serve", "--dev", "--data", filepath.Join(tmp, "data"))
	if !*devAS {
		fc, err := benchcfg.Write(tmp, benchcfg.Options{Store: "sqlite"})
		check(err)
		defer fc.Cleanup()
		as = exec.Command(bin, "serve", "--config", fc.Path)
		as.Env = append(os.Environ(), fc.Env...)
		creds.Issuer, creds.GatewayURL, base = fc.Issuer, fc.GatewayURL, fc.Base
		creds.Service.ClientID, creds.Service.ClientSecret = fc.ClientID, fc.Secret
	}
	as.Stdout, as.Stderr = io.Discard, io.Discard
	check(as.Start())
	defer as.Process.Kill()
	exited := make(chan struct{})
	go func() { _ = as.Wait(); close(exited) }()
	waitFor(func() bool {
		select {
		case <-exited:
			log.Fatal("the authorization server exited (with -dev: is another `ward serve --dev` holding port 9000?)")
		default:
		}
		if *devAS {
			b, err := os.ReadFile(filepath.Join(tmp, "data", "dev-credentials.json"))
			if err != nil || json.Unmarshal(b, &creds) != nil {
				return false
			}
		}
		resp, err := http.Get(orBase(base, creds.Issuer) + "/.well-known/oauth-authorization-server")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// One client key, one access token bound to it.
	key, err := dpop.GenerateKey(dpop.ES256)
	check(err)
	signer, err := dpop.NewSigner(key)
	check(err)
	token := getToken(orBase(base, creds.Issuer)+"/token", creds.Issuer+"/token", creds.Service.ClientID, creds.Service.ClientSecret, signer)

	self, err := os.Executable()
	check(err)
	up, upAddr := startChild(self, nil, *pin, 0, "-role", "upstream")
	defer stopChild(up)
	gwArgs := []string{"-role", "gateway", "-issuer", creds.Issuer, "-issuer-base", base, "-audience", creds.GatewayURL, "-upstream", "http://" + upAddr}
	var gwEnv []string
	switch *profPhase {
	case "":
	case "peak", "half":
		gwEnv = append(gwEnv, "GATEWAYLOAD_PROFILE_ON_SIGNAL=1")
	default:
		log.Fatal("-cpuprofile-phase must be peak or half")
	}
	if *cpuprofile != "" {
		abs, err := filepath.Abs(*cpuprofile)
		check(err)
		gwArgs = append(gwArgs, "-cpuprofile", abs)
	}
	if *redisAddr != "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		gwArgs = append(gwArgs, "-redis", *redisAddr, "-redis-prefix", fmt.Sprintf("ward:bench:%x:", b))
	}
	const path = "/api/hello"
	var gwURLs []string // where requests are sent, round-robin
	var gwPids []int
	var gwAdmins []string // the gateways' admin listeners (metrics)
	var gw0 *exec.Cmd     // the first gateway (the profiled one)
	pub := ""             // the shared public URL: the first gateway's address
	for i := range *gateways {
		args := gwArgs
		if i > 0 {
			args = withoutFlag(args, "-cpuprofile")
			args = append(args, "-public-url", pub)
		}
		gw, addrs := startChild(self, append([]string{"GOGC=" + *gogc}, gwEnv...), *pin, 1, args...)
		defer stopChild(gw)
		if i == 0 {
			gw0 = gw
		}
		addr, adminAddr, _ := strings.Cut(addrs, " ")
		gwAdmins = append(gwAdmins, adminAddr)
		if i == 0 {
			pub = "http://" + addr
		}
		gwURLs = append(gwURLs, "http://"+addr+path)
		gwPids = append(gwPids, gw.Process.Pid)
	}
	htu, upURL := pub+path, "http://"+upAddr+path
	upURLs := []string{upURL}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	// Warm up each gateway: discovery and JWKS fetch, the verified-token cache.
	for _, u := range gwURLs {
		warm, err := signer.Proof("GET", htu, dpop.WithAccessToken(token))
		check(err)
		if code := get(client, u, token, warm); code != 200 {
			log.Fatalf("warm-up through the gateway %s: status %d", u, code)
		}
		if code := get(client, upURL, token, warm); code != 200 {
			log.Fatalf("warm-up of the upstream: status %d", code)
		}
	}
	if len(gwURLs) > 1 {
		// The replay store is shared: a proof accepted at the first
		// gateway is refused at the second.
		p, err := signer.Proof("GET", htu, dpop.WithAccessToken(token))
		check(err)
		if a, b := get(client, gwURLs[0], token, p), get(client, gwURLs[1], token, p); a != 200 || b != 401 {
			log.Fatalf("cross-gateway replay: first use %d (want 200), replay at the second %d (want 401)", a, b)
		}
		fmt.Fprintf(os.Stderr, "%d gateways, public URL %s: a proof replayed across them is refused\n", len(gwURLs), pub)
	}
	if *clientKind == "raw" {
		// The requests the raw client writes are accepted too.
		rawCheck(gwURLs, token, func() string {
			p, err := signer.Proof("GET", htu, dpop.WithAccessToken(token))
			check(err)
			return p
		})
		rawCheck(upURLs, token, func() string { return "x" })
		client.CloseIdleConnections() // net/http's client is not used again
	}
	if *frontKind == "nginx" {
		f := &frontRun{self: self, gogc: *gogc, gwArgs: gwArgs, path: path, upAddr: upAddr, gwURL: gwURLs[0], gwHTU: htu, gwAdmin: gwAdmins[0],
			token: token, signer: signer, hc: client, procs: map[string][]int{"gateway": gwPids, "upstream": {up.Process.Pid}, "generator": {os.Getpid()}},
			workers: *workers, max: *maxRequests, rounds: *rounds, keepalive: *nginxKeepalive, d: *duration, nginxBin: *nginxBin}
		if !f.run() {
			stopChild(gw0)
			stopChild(up)
			as.Process.Kill()
			os.Exit(1)
		}
		return
	}
	makeProofs := func(n int) []string {
		fmt.Fprintf(os.Stderr, "making %d proofs...\n", n)
		return parallelProofs(signer, htu, token, n)
	}
	procs := map[string][]int{"gateway": gwPids, "upstream": {up.Process.Pid}, "generator": {os.Getpid()}}
	ld := &load{client: *clientKind, hc: client, token: token, workers: *workers, openConns: *openConns, pacer: *pacerKind, d: *duration, procs: procs}

	// Phase 1: peak.
	n := min(*maxRequests, int(duration.Seconds()*20_000))
	bareProofs := makeProofs(1)
	barePeak := ld.closed(upURLs, bareProofs, true)
	peakProofs := makeProofs(n)
	profile := func(phase string, sig syscall.Signal) {
		if *profPhase == phase && *cpuprofile != "" {
			check(gw0.Process.Signal(sig))
		}
	}
	profile("peak", syscall.SIGUSR1)
	gwPeak := ld.closed(gwURLs, peakProofs, false)
	profile("peak", syscall.SIGUSR2)
	// The bare verify is measured right after each gateway phase, so the
	// ratio compares costs under the same load from the rest of the
	// machine (the ratio, not the absolute time, is the figure).
	verifyPeak := measure.BareVerify(2 * time.Second)

	// Phase 2: -half (by default half) of the gateway's peak rate.
	rate := gwPeak.rate() * *half
	m := min(*maxRequests, int(rate*duration.Seconds()*1.05)+100)
	halfProofs := makeProofs(m)
	inside0 := insideBuckets(gwAdmins)
	profile("half", syscall.SIGUSR1)
	gwHalf := ld.open(gwURLs, halfProofs, false, rate)
	profile("half", syscall.SIGUSR2)
	inside := insideBuckets(gwAdmins).minus(inside0)
	verifyHalf := measure.BareVerify(2 * time.Second)
	bareHalf := ld.open(upURLs, bareProofs, true, rate)
	// What the output calls the open-loop rate: "half of peak" unless -half.
	frac, fracLoad := "half of peak", "half load"
	if *half != 0.5 {
		frac = fmt.Sprintf("%g of peak", *half)
		fracLoad = frac + " load"
	}

	fmt.Printf("machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadavg())
	if *pin {
		fmt.Println("pinned: gateway on CPU 1; load generator and upstream on CPU 0 (other processes on the machine are not pinned)")
	} else {
		fmt.Println("not pinned: every process may run on every CPU")
	}
	fmt.Printf("gateway GOGC=%s\n", *gogc)
	if *clientKind == "raw" {
		fmt.Printf("load generator: raw HTTP/1.1 client, %d connections (closed loop), %d (open loop)", *workers, *openConns)
	} else {
		fmt.Printf("load generator: net/http client, %d goroutines (closed loop), 256 senders (open loop)", *workers)
	}
	if len(gwURLs) > 1 {
		fmt.Printf(", to each gateway")
	}
	fmt.Println()
	store := "memory"
	if *redisAddr != "" {
		store = "Redis " + *redisAddr
	}
	fmt.Printf("gateways: %d (replay store: %s; gateway CPU is their sum)\n", len(gwURLs), store)
	fmt.Printf("open-loop pacer: %s: %s; %s: %s\n", gwHalf.name, gwHalf.pacer, bareHalf.name, bareHalf.pacer)
	fmt.Printf("bare P-256 verify (same run): %v after the peak phase, %v after the %s phase\n",
		verifyPeak.Round(time.Microsecond), verifyHalf.Round(time.Microsecond), fracLoad)
	phases := []*result{barePeak, gwPeak, gwHalf, bareHalf}
	fmt.Println()
	fmt.Printf("%-22s %9s %9s %9s %8s %12s %12s %14s\n", "phase", "req/s", "p50", "p99", "errors", "gateway CPU", "upstream CPU", "generator CPU")
	for _, r := range phases {
		fmt.Printf("%-22s %9.0f %9v %9v %8d %12v %12v %14v\n", r.name, r.rate(), r.pct(0.50), r.pct(0.99), r.failed,
			r.cpuPerReq("gateway"), r.cpuPerReq("upstream"), r.cpuPerReq("generator"))
	}
	fmt.Println()
	fmt.Printf("%-22s %9s %9s %9s %9s %9s %10s\n", "latency", "p50", "p90", "p99", "p99.9", "max", "late p99")
	for _, r := range phases {
		late := "-" // closed loop: no schedule
		if r.late != nil {
			late = fmt.Sprint(pctOf(r.late, 0.99))
		}
		fmt.Printf("%-22s %9v %9v %9v %9v %9v %10s\n", r.name, r.pct(0.50), r.pct(0.90), r.pct(0.99), r.pct(0.999), r.pct(1), late)
	}
	fmt.Println("(CPU columns: each process's CPU time per answered request; late: how long after its scheduled time a request's send began)")
	fmt.Println()
	added := gwPeak.cpuPerReq("gateway")
	fmt.Printf("gateway CPU per request (peak): %v = %.2f × one bare verify (target ≤ 2)\n", added, float64(added)/float64(verifyPeak))
	addedHalf := gwHalf.cpuPerReq("gateway")
	fmt.Printf("gateway CPU per request (%s): %v = %.2f × one bare verify\n", fracLoad, addedHalf, float64(addedHalf)/float64(verifyHalf))
	// A second figure, not the target's definition: the gateway's CPU less
	// what the bare upstream spends serving the same request (a proxy
	// re-does the upstream's HTTP serving work).
	netPeak, netHalf := added-barePeak.cpuPerReq("upstream"), addedHalf-bareHalf.cpuPerReq("upstream")
	fmt.Printf("net of bare serving (not the target): peak %v = %.2f × (less the bare upstream's CPU per request at its peak), %s %v = %.2f × (less the bare upstream's at the same rate)\n",
		netPeak, float64(netPeak)/float64(verifyPeak), fracLoad, netHalf, float64(netHalf)/float64(verifyHalf))
	fmt.Printf("gateway peak throughput: %.2f × the bare upstream's\n", gwPeak.rate()/barePeak.rate())
	fmt.Printf("added latency at %s (%.0f req/s): p50 %v, p99 %v (target p99 < 1ms at half of peak)\n", frac, rate,
		gwHalf.pct(0.50)-bareHalf.pct(0.50), gwHalf.pct(0.99)-bareHalf.pct(0.99))
	fmt.Printf("inside the gateway at %s (its request_duration histogram: handler start to end, upstream included): %s\n", frac, inside)
	if *cpuprofile != "" {
		fmt.Printf("gateway CPU profile (first gateway, written when it stops): %s\n", *cpuprofile)
	}
	failed := false
	for _, r := range phases {
		if r.failed > 0 {
			fmt.Printf("%s: %d failed, the first: %s\n", r.name, r.failed, r.firstErr)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// result is one phase's measurements.
type result struct {
	name     string
	ok       int64
	failed   int64
	firstErr string // the first failure's reason
	elapsed  time.Duration
	lat      []time.Duration // sorted
	late     []time.Duration // open loop: send start less scheduled time, sorted; nil in a closed loop
	pacer    string          // open loop: how the schedule's slots were paced
	cpu      map[string]time.Duration
}

func (r *result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration { return pctOf(r.lat, p) }

// pctOf is the p-quantile of sorted (1 for the maximum).
func pctOf(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))].Round(time.Microsecond)
}

func (r *result) cpuPerReq(proc string) time.Duration {
	if r.ok == 0 {
		return 0
	}
	return (r.cpu[proc] / time.Duration(r.ok)).Round(time.Microsecond)
}

// phaseOut is what a phase's load loop returns.
type phaseOut struct {
	ok, failed int64
	firstErr   string
	lat, late  []time.Duration
}

// runPhase runs send and fills in the CPU the processes used meanwhile.
func runPhase(name string, procs map[string][]int, run func() phaseOut) *result {
	cpu0 := map[string]time.Duration{}
	for n, pids := range procs {
		cpu0[n] = sumCPU(pids)
	}
	start := time.Now()
	o := run()
	r := &result{name: name, ok: o.ok, failed: o.failed, firstErr: o.firstErr, elapsed: time.Since(start), lat: o.lat, late: o.late, cpu: map[string]time.Duration{}}
	for n, pids := range procs {
		r.cpu[n] = sumCPU(pids) - cpu0[n]
	}
	slices.Sort(r.lat)
	slices.Sort(r.late)
	return r
}

// load runs the measured phases with the chosen client.
type load struct {
	client    string // "raw" or "nethttp"
	hc        *http.Client
	token     string
	workers   int    // closed loop
	openConns int    // open loop, raw client
	pacer     string // open loop, raw client: pacerPrecise or pacerSleep
	d         time.Duration
	procs     map[string][]int
}

// closed runs a closed-loop phase at peak (reuse: the bare upstream,
// which does not check the proofs).
func (l *load) closed(us []string, proofs []string, reuse bool) *result {
	name := "gateway, peak"
	if reuse {
		name = "bare upstream, peak"
	}
	if l.client == "nethttp" {
		return closedLoop(name, l.hc, us, l.token, proofs, reuse, l.workers, l.d, l.procs)
	}
	return rawClosedLoop(name, mustRawRequests(us, l.token, proofs, reuse), l.workers, l.d, l.procs)
}

// open runs an open-loop phase at rate.
func (l *load) open(us []string, proofs []string, reuse bool, rate float64) *result {
	name := fmt.Sprintf("gateway, %.0f/s", rate)
	if reuse {
		name = fmt.Sprintf("bare upstream, %.0f/s", rate)
	}
	if l.client == "nethttp" {
		r := openLoop(name, l.hc, us, l.token, proofs, reuse, rate, l.d, l.procs)
		r.pacer = "sleep (net/http client: time.Sleep in one dispatcher goroutine; -pacer is for the raw client)"
		return r
	}
	return rawOpenLoop(name, mustRawRequests(us, l.token, proofs, reuse), l.openConns, rate, l.d, l.pacer, l.procs)
}

func sumCPU(pids []int) time.Duration {
	var t time.Duration
	for _, pid := range pids {
		t += measure.ProcCPU(pid)
	}
	return t
}

// withoutFlag drops a flag and its value from args.
func withoutFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// closedLoop sends with net/http's client from workers goroutines, each
// as fast as answers come, for d or until the proofs run out (reuse: the
// bare upstream does not check them).
func closedLoop(name string, c *http.Client, us []string, token string, proofs []string, reuse bool, workers int, d time.Duration, procs map[string][]int) *result {
	return runPhase(name, procs, func() phaseOut {
		var next atomic.Int64
		var t tally
		lats := make([][]time.Duration, workers)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if reuse {
						i %= len(proofs)
					} else if i >= len(proofs) {
						return
					}
					t0 := time.Now()
					code := get(c, us[i%len(us)], token, proofs[i])
					lats[w] = append(lats[w], time.Since(t0))
					t.add(codeErr(code))
				}
			})
		}
		wg.Wait()
		return t.out(lats, nil)
	})
}

// openLoop sends with net/http's client at a fixed rate for d, whatever
// the answers' pace: a dispatcher hands each scheduled request to one of
// 256 sender goroutines; latency runs from the scheduled send time, so
// queueing counts.
func openLoop(name string, c *http.Client, us []string, token string, proofs []string, reuse bool, rate float64, d time.Duration, procs map[string][]int) *result {
	return runPhase(name, procs, func() phaseOut {
		total := int(rate * d.Seconds())
		if !reuse {
			total = min(total, len(proofs))
		}
		type job struct {
			i  int
			at time.Time
		}
		jobs := make(chan job, 4096)
		const senders = 256
		var t tally
		lats, lates := make([][]time.Duration, senders), make([][]time.Duration, senders)
		var wg sync.WaitGroup
		for w := range senders {
			wg.Go(func() {
				for j := range jobs {
					lates[w] = append(lates[w], time.Since(j.at))
					code := get(c, us[j.i%len(us)], token, proofs[j.i%len(proofs)])
					lats[w] = append(lats[w], time.Since(j.at))
					t.add(codeErr(code))
				}
			})
		}
		start := time.Now()
		interval := time.Duration(float64(time.Second) / rate)
		for i := range total {
			at := start.Add(time.Duration(i) * interval)
			if w := time.Until(at); w > 0 {
				time.Sleep(w)
			}
			jobs <- job{i, at}
		}
		close(jobs)
		wg.Wait()
		return t.out(lats, lates)
	})
}

func flatten(ls [][]time.Duration) []time.Duration {
	var all []time.Duration
	for _, l := range ls {
		all = append(all, l...)
	}
	return all
}

// codeErr is nil for a 200 from get, else the failure.
func codeErr(code int) error {
	switch code {
	case 200:
		return nil
	case 0:
		return errors.New("net/http client error")
	}
	return statusError(code)
}

// get sends one request with net/http's client: its status, or 0 on error.
func get(c *http.Client, u, token, proof string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// getToken obtains a DPoP-bound client-credentials token, answering a
// nonce challenge if the server sends one.
func getToken(tokenURL, htu, id, secret string, s *dpop.Signer) string {
	body := url.Values{"grant_type": {string(oauth.GrantClientCredentials)}, "scope": {"demo:read"}}.Encode()
	nonce := ""
	for range 3 {
		p, err := s.Proof("POST", htu, dpop.WithNonce(nonce))
		check(err)
		req, _ := http.NewRequest("POST", tokenURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		req.Header.Set("DPoP", p)
		resp, err := http.DefaultClient.Do(req)
		check(err)
		var tr struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if resp.StatusCode == 200 && err == nil && tr.TokenType == "DPoP" {
			return tr.AccessToken
		}
		nonce = resp.Header.Get("DPoP-Nonce")
	}
	log.Fatal("cannot get an access token")
	return ""
}

// parallelProofs makes n unique proofs for GET u, on every CPU.
func parallelProofs(s *dpop.Signer, u, token string, n int) []string {
	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				p, err := s.Proof("GET", u, dpop.WithAccessToken(token))
				check(err)
				out[i] = p
			}
		})
	}
	wg.Wait()
	return out
}

// startChild starts this binary in a role, with env added to this
// process's environment and, when pin, on CPU cpu alone, and reads the
// address it listens on from its first line of output.
func startChild(self string, env []string, pin bool, cpu int, args ...string) (*exec.Cmd, string) {
	cmd := exec.Command(self, args...)
	if pin {
		cmd = exec.Command("taskset", append([]string{"-c", fmt.Sprint(cpu), self}, args...)...)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("%v: %v", args, err)
	}
	go io.Copy(io.Discard, out)
	return cmd, strings.TrimSpace(line)
}

// stopChild interrupts a child and waits for it (so a profile is written).
func stopChild(c *exec.Cmd) {
	if c.ProcessState != nil {
		return
	}
	c.Process.Signal(os.Interrupt)
	c.Wait()
}

// runUpstream is the trivial upstream: 200 "ok" for everything.
func runUpstream() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	fmt.Println(ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	waitSignal()
}

// runGateway runs package gateway as `ward serve` would, with one route
// /api/ to the upstream open to any client holding a valid token.
func runGateway(issuer, issuerBase, audience, upstream, cpuprofile, redisAddr, redisPrefix, publicURL string, authorizer bool) {
	switch {
	case cpuprofile != "" && os.Getenv("GATEWAYLOAD_PROFILE_ON_SIGNAL") == "1":
		// One phase: SIGUSR1 starts the profile, SIGUSR2 writes it.
		c := make(chan os.Signal, 2)
		signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
		go func() {
			var f *os.File
			for sig := range c {
				if sig == syscall.SIGUSR1 && f == nil {
					var err error
					f, err = os.Create(cpuprofile)
					check(err)
					check(pprof.StartCPUProfile(f))
				} else if sig == syscall.SIGUSR2 && f != nil {
					pprof.StopCPUProfile()
					f.Close()
					f = nil
				}
			}
		}()
	case cpuprofile != "":
		f, err := os.Create(cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	cfg := config.DefaultGateway()
	cfg.Enabled = true
	cfg.Issuer = issuer
	cfg.Audience = audience
	cfg.PublicURL = "http://" + ln.Addr().String()
	if publicURL != "" {
		cfg.PublicURL = publicURL // as behind a load balancer
	}
	cfg.Routes = []config.Route{{Name: "api", PathPrefix: "/api/", Upstream: upstream, Policy: []config.PolicyRule{
		{Name: "any-client", Action: "allow", Principals: []string{"*"}},
	}}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) // Info, as `ward serve`
	opts := gateway.Options{Issuer: issuer, Logger: logger}
	if issuerBase != "" {
		// Discovery and JWKS: the issuer's https URLs over plain HTTP.
		iu, err := url.Parse(issuer)
		check(err)
		bu, err := url.Parse(issuerBase)
		check(err)
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: rewriteHost{from: iu.Host, to: bu}}
	}
	if redisAddr != "" {
		if redisPrefix == "" {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			redisPrefix = fmt.Sprintf("ward:bench:%x:", b)
		}
		rs, err := redisstore.New(redisstore.Config{Addr: redisAddr, Prefix: redisPrefix, Logger: logger})
		check(err)
		defer rs.Close()
		check(rs.Ping(context.Background()))
		opts.ReplayStore = rs
	}
	var azLn net.Listener
	if authorizer {
		azLn, cfg.Authorizer = authorizerListener()
	}
	g, err := gateway.New(&cfg, opts)
	check(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go func() { done <- g.Serve(ctx, ln, admin) }()
	if azLn != nil {
		go func() { _ = g.ServeAuthorizer(ctx, azLn) }()
		fmt.Println(ln.Addr(), admin.Addr(), azLn.Addr())
	} else {
		fmt.Println(ln.Addr(), admin.Addr())
	}
	waitSignal()
	cancel()
	<-done
}

// authorizerListener is the forward-auth endpoint's own listener
// (gateway.authorizer.listen) and its settings: nginx on loopback is the
// one trusted proxy.
func authorizerListener() (net.Listener, config.Authorizer) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	return ln, config.Authorizer{Listen: ln.Addr().String(), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
}

// pinSelf sets the CPU affinity of every thread of this process to cpu
// alone; threads started later inherit it.
func pinSelf(cpu int) {
	tasks, err := os.ReadDir("/proc/self/task")
	check(err)
	mask := uint64(1) << cpu
	for _, t := range tasks {
		var tid int
		if _, err := fmt.Sscan(t.Name(), &tid); err != nil {
			continue
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); e != 0 {
			log.Fatalf("sched_setaffinity: %v", e)
		}
	}
}

// rewriteHost sends requests for host from to the scheme and host of to.
type rewriteHost struct {
	from string
	to   *url.URL
}

func (t rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == t.from {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = t.to.Scheme, t.to.Host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func orBase(base, issuer string) string {
	if base != "" {
		return base
	}
	return issuer
}

func waitSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	<-c
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func waitFor(f func() bool) {
	for range 300 {
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

// buckets are the cumulative counts of the gateways'
// ward_gateway_request_duration_seconds histogram, summed over its labels,
// by upper bound (seconds).
type buckets map[float64]float64

// insideBuckets scrapes the gateways' admin listeners.
func insideBuckets(admins []string) buckets {
	b := buckets{}
	for _, a := range admins {
		resp, err := http.Get("http://" + a + "/metrics")
		check(err)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "ward_gateway_request_duration_seconds_bucket{") {
				continue
			}
			_, rest, _ := strings.Cut(line, `le="`)
			le, val, _ := strings.Cut(rest, `"} `)
			ub, err1 := strconv.ParseFloat(le, 64)
			n, err2 := strconv.ParseFloat(val, 64)
			if err1 == nil && err2 == nil {
				b[ub] += n
			}
		}
		resp.Body.Close()
	}
	return b
}

func (b buckets) minus(o buckets) buckets {
	d := buckets{}
	for k, v := range b {
		d[k] = v - o[k]
	}
	return d
}

// String gives the share of requests at or under each bound up to the
// first that holds 99.9 %.
func (b buckets) String() string {
	total := b[math.Inf(1)]
	if total == 0 {
		return "no requests"
	}
	bounds := slices.Sorted(maps.Keys(b))
	var parts []string
	for _, ub := range bounds {
		if math.IsInf(ub, 1) {
			break
		}
		share := b[ub] / total
		parts = append(parts, fmt.Sprintf("≤%v %.2f%%", time.Duration(ub*float64(time.Second)), 100*share))
		if share >= 0.999 {
			break
		}
	}
	return strings.Join(parts, ", ")
}
