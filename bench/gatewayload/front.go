package main

import (
	"fmt"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wardauth/ward/bench/internal/measure"
	"github.com/wardauth/ward/dpop"
)

// -front nginx (issue 16): the same load, closed loop at peak, sent four
// ways to the upstream, in rounds that each run all four: (a) the bare
// upstream; (b) nginx alone, proxy_pass to the upstream; (c) nginx with
// auth_request to Ward's forward-auth endpoint (a gateway child serving
// gateway.authorizer on its own listener, trusting 127.0.0.1/32), then
// proxy_pass to the upstream; (d) Ward's gateway to the upstream. Each
// round starts one setup later than the one before, so none always runs
// first, and ends with a bare P-256 verify loop. Requests carry the token
// and, in (c) and (d), a fresh DPoP proof each whose htu is the URL the
// client sends to (nginx's in (c)); (a) and (b) check nothing and get one
// proof, the same size, again and again.
//
// CPU per request of the processes in front of the upstream: nginx is its
// master plus its one worker (worker_processes 1: one event loop, where
// Ward's Go runtime may use both cores; CPU time per request is what is
// compared, not throughput).

// frontRun is what -front nginx needs from main's setup.
type frontRun struct {
	self, gogc   string
	gwArgs       []string // the gateway child's flags, the authorizer's too
	path         string   // the request path
	upAddr       string
	gwURL, gwHTU string // Ward's gateway (d): where requests go, the proofs' htu
	gwAdmin      string
	token        string
	signer       *dpop.Signer
	hc           *http.Client
	procs        map[string][]int // upstream, gateway, generator; run adds nginx's and the authorizer's
	workers      int
	max          int // upper bound on the proofs made for a phase
	rounds       int
	keepalive    int
	d            time.Duration
	nginxBin     string
}

// setup is one way to the upstream.
type setup struct {
	name  string
	url   string   // where requests go
	htu   string   // the proofs' htu; "" when nothing checks them
	front []string // the processes in front of the upstream (keys of procs)
	admin string   // Ward's admin listener, whose histogram counts its decisions; "" for none
}

// round is one round's results, by setup, and its bare verify.
type round struct {
	res    []*result
	verify time.Duration
}

// run starts the authorizer and two nginx, checks them, measures and
// reports; false when a request failed.
func (f *frontRun) run() bool {
	bin, err := findNginx(f.nginxBin)
	check(err)
	tmp, err := os.MkdirTemp("", "ward-gatewayload-nginx-")
	check(err)
	defer os.RemoveAll(tmp)
	plainAddr, err := freeAddr()
	check(err)
	authAddr, err := freeAddr()
	check(err)
	az, azAddrs := startChild(f.self, []string{"GOGC=" + f.gogc}, false, 0,
		append(slices.Clone(f.gwArgs), "-authorizer", "-public-url", "http://"+authAddr)...)
	defer stopChild(az)
	azFields := strings.Fields(azAddrs)
	plain := f.startNginx(bin, filepath.Join(tmp, "plain"), plainAddr, "")
	defer plain.stop()
	auth := f.startNginx(bin, filepath.Join(tmp, "auth"), authAddr, azFields[2])
	defer auth.stop()
	f.procs["nginx"], f.procs["nginx (auth)"], f.procs["authorizer"] = plain.pids(), auth.pids(), []int{az.Process.Pid}

	authURL := "http://" + authAddr + f.path
	setups := []setup{
		{name: "bare upstream", url: "http://" + f.upAddr + f.path},
		{name: "nginx", url: "http://" + plainAddr + f.path, front: []string{"nginx"}},
		{name: "nginx + Ward authorizer", url: authURL, htu: authURL, front: []string{"nginx (auth)", "authorizer"}, admin: azFields[1]},
		{name: "Ward gateway", url: f.gwURL, htu: f.gwHTU, front: []string{"gateway"}, admin: f.gwAdmin},
	}
	f.checkSetups(setups)
	load0 := loadavg()
	rounds := f.measure(setups)
	f.report(bin, setups, rounds, load0)
	return !anyFailed(rounds)
}

func (f *frontRun) startNginx(bin, dir, listen, ward string) *nginxProc {
	check(os.MkdirAll(dir, 0o700))
	n, err := startNginx(bin, nginxOptions{dir: dir, listen: listen, upstream: f.upAddr, ward: ward, keepalive: f.keepalive})
	check(err)
	if len(n.pids()) != 2 {
		log.Fatalf("nginx: %d processes, want a master and one worker", len(n.pids()))
	}
	return n
}

// checkSetups makes sure each setup answers, and that (c) checks every
// request: a fresh proof is let through, the same proof again is
// refused, and so is a request without one.
func (f *frontRun) checkSetups(setups []setup) {
	for _, s := range setups {
		htu := s.htu
		if htu == "" {
			htu = s.url
		}
		p, err := f.signer.Proof("GET", htu, dpop.WithAccessToken(f.token))
		check(err)
		first := get(f.hc, s.url, f.token, p)
		if first != 200 {
			log.Fatalf("%s: status %d", s.name, first)
		}
		if s.htu == "" {
			continue
		}
		replay, none := get(f.hc, s.url, f.token, p), getNoProof(f.hc, s.url, f.token)
		if replay != 401 || none != 401 {
			log.Fatalf("%s: a replayed proof got %d, no proof %d (want 401 both)", s.name, replay, none)
		}
		fmt.Fprintf(os.Stderr, "%s: a fresh proof 200, the same proof again 401, no proof 401\n", s.name)
	}
	for _, s := range setups {
		rawCheck([]string{s.url}, f.token, func() string { return f.proofs(s, 1)[0] })
	}
	f.hc.CloseIdleConnections()
}

// getNoProof sends the token without a DPoP header.
func getNoProof(c *http.Client, u, token string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "DPoP "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// proofs are n fresh proofs for s (one, for a setup that checks none).
func (f *frontRun) proofs(s setup, n int) []string {
	if s.htu == "" {
		return parallelProofs(f.signer, s.url, f.token, 1)
	}
	return parallelProofs(f.signer, s.htu, f.token, n)
}

// measure runs the rounds; round r starts with setup r mod 4.
func (f *frontRun) measure(setups []setup) []round {
	n := min(f.max, int(f.d.Seconds()*20_000))
	var out []round
	for r := range f.rounds {
		res := make([]*result, len(setups))
		for k := range setups {
			i := (r + k) % len(setups)
			res[i] = f.phase(setups[i], n)
			fmt.Fprintf(os.Stderr, "round %d: %s: %.0f req/s, %d failed\n", r+1, setups[i].name, res[i].rate(), res[i].failed)
		}
		out = append(out, round{res: res, verify: measure.BareVerify(2 * time.Second)})
	}
	return out
}

// phase is one closed loop at peak; where Ward decides, its histogram
// must count one decision per answer.
func (f *frontRun) phase(s setup, n int) *result {
	proofs := f.proofs(s, n)
	var before float64
	if s.admin != "" {
		before = insideBuckets([]string{s.admin})[math.Inf(1)]
	}
	r := rawClosedLoop(s.name, mustRawRequests([]string{s.url}, f.token, proofs, s.htu == ""), f.workers, f.d, f.procs)
	if s.admin != "" {
		decided := int64(insideBuckets([]string{s.admin})[math.Inf(1)] - before)
		if decided != r.ok+r.failed {
			r.failed++
			r.firstErr = fmt.Sprintf("Ward decided %d requests, %d were answered", decided, r.ok+r.failed-1)
		}
	}
	return r
}

// frontCPU is the CPU per answered request of s's processes in front of
// the upstream, with upstream too: the whole way.
func frontCPU(r *result, s setup, upstream bool) time.Duration {
	if r.ok == 0 {
		return 0
	}
	var t time.Duration
	for _, k := range s.front {
		t += r.cpu[k]
	}
	if upstream {
		t += r.cpu["upstream"]
	}
	return t / time.Duration(r.ok)
}

func anyFailed(rounds []round) bool {
	for _, rd := range rounds {
		for _, r := range rd.res {
			if r.failed > 0 {
				return true
			}
		}
	}
	return false
}

// spread is the median and range of xs.
type spread struct{ med, lo, hi float64 }

func spreadOf(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return spread{}
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{med: m, lo: s[0], hi: s[len(s)-1]}
}

// format prints the median and range with verb (e.g. "%.1f").
func (s spread) format(verb string) string {
	return fmt.Sprintf(verb+" ["+verb+"–"+verb+"]", s.med, s.lo, s.hi)
}

// perRound is f of each round.
func perRound(rounds []round, f func(rd round) float64) spread {
	var xs []float64
	for _, rd := range rounds {
		xs = append(xs, f(rd))
	}
	return spreadOf(xs)
}

func µs(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "))
}

// report prints the setting, each round, the medians and the
// comparisons the issue asks for.
func (f *frontRun) report(bin string, setups []setup, rounds []round, load0 string) {
	fmt.Printf("machine: %d CPUs, load average %s before the rounds, %s after (other processes share the machine)\n", runtime.NumCPU(), load0, loadavg())
	fmt.Printf("nginx %s: worker_processes 1, access_log off, keep-alive to the upstream and Ward: %d idle connections (0: none); its CPU is master + worker\n",
		nginxVersion(bin), f.keepalive)
	fmt.Printf("Ward (gateway and authorizer) GOGC=%s; not pinned; load generator: raw HTTP/1.1 client, %d connections, closed loop, %v per phase, %d rounds\n",
		f.gogc, f.workers, f.d, f.rounds)
	fmt.Println()
	fmt.Printf("%-5s %-24s %9s %7s %13s %13s %13s %13s %10s\n", "round", "setup", "req/s", "errors", "front CPU", "upstream CPU", "whole way", "generator", "verify")
	for i, rd := range rounds {
		for k, s := range setups {
			r := rd.res[k]
			fmt.Printf("%-5d %-24s %9.0f %7d %13s %13s %13s %13s %10v\n", i+1, s.name, r.rate(), r.failed,
				f.frontDetail(r, s), fmt.Sprintf("%.1fµs", µs(r.cpu["upstream"])/float64(max(r.ok, 1))),
				fmt.Sprintf("%.1fµs", µs(frontCPU(r, s, true))), fmt.Sprintf("%.1fµs", µs(r.cpu["generator"])/float64(max(r.ok, 1))),
				rd.verify.Round(100*time.Nanosecond))
		}
	}
	fmt.Println("(CPU per answered request; front: the processes in front of the upstream; whole way: front + upstream; verify: one bare P-256 verify, this round)")
	fmt.Println()
	f.reportMedians(setups, rounds)
	for _, rd := range rounds {
		for k, s := range setups {
			if r := rd.res[k]; r.failed > 0 {
				fmt.Printf("%s: %d failed, the first: %s\n", s.name, r.failed, r.firstErr)
			}
		}
	}
}

// frontDetail is the front CPU per request, split by process when more
// than one.
func (f *frontRun) frontDetail(r *result, s setup) string {
	if len(s.front) == 0 {
		return "-"
	}
	if len(s.front) == 1 {
		return fmt.Sprintf("%.1fµs", µs(frontCPU(r, s, false)))
	}
	var parts []string
	for _, k := range s.front {
		parts = append(parts, fmt.Sprintf("%.1f", µs(r.cpu[k])/float64(max(r.ok, 1))))
	}
	return strings.Join(parts, "+") + "µs"
}

// reportMedians prints, per setup, medians [ranges] over the rounds, then
// the comparisons: (c) against (b) and (d).
func (f *frontRun) reportMedians(setups []setup, rounds []round) {
	fmt.Printf("medians [ranges] over %d rounds\n", len(rounds))
	fmt.Printf("%-24s %22s %22s %22s %22s\n", "setup", "req/s", "front CPU µs/req", "front ÷ verify", "whole way µs/req")
	for k, s := range setups {
		rate := perRound(rounds, func(rd round) float64 { return rd.res[k].rate() })
		front := perRound(rounds, func(rd round) float64 { return µs(frontCPU(rd.res[k], s, false)) })
		ratio := perRound(rounds, func(rd round) float64 { return float64(frontCPU(rd.res[k], s, false)) / float64(rd.verify) })
		whole := perRound(rounds, func(rd round) float64 { return µs(frontCPU(rd.res[k], s, true)) })
		fmt.Printf("%-24s %22s %22s %22s %22s\n", s.name, rate.format("%.0f"), front.format("%.1f"), ratio.format("%.2f"), whole.format("%.1f"))
	}
	for _, k := range setups[2].front {
		c := perRound(rounds, func(rd round) float64 { return µs(rd.res[2].cpu[k]) / float64(max(rd.res[2].ok, 1)) })
		fmt.Printf("  of which %s: %s µs/req\n", k, c.format("%.1f"))
	}
	verify := perRound(rounds, func(rd round) float64 { return µs(rd.verify) })
	fmt.Printf("bare P-256 verify: %s µs\n", verify.format("%.1f"))
	c, b, d := setups[2], setups[1], setups[3]
	cmp := func(label string, y setup, j int) {
		ratio := perRound(rounds, func(rd round) float64 {
			return float64(frontCPU(rd.res[2], c, false)) / float64(frontCPU(rd.res[j], y, false))
		})
		diff := perRound(rounds, func(rd round) float64 {
			return float64(frontCPU(rd.res[2], c, false)-frontCPU(rd.res[j], y, false)) / float64(rd.verify)
		})
		fmt.Printf("nginx + Ward authorizer vs %s (front CPU per request, per round): ratio %s, difference %s × verify\n", label, ratio.format("%.2f"), diff.format("%.2f"))
	}
	cmp("nginx alone", b, 1)
	cmp("Ward gateway alone", d, 3)
}
