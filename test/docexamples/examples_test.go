package docexamples

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardauth/ward/internal/wardtest"
)

// block is one fenced shell example.
type block struct {
	doc  string
	line int    // of the opening fence
	skip string // the skip marker's reason; "" runs it
	text string
}

var (
	fenceRE = regexp.MustCompile("^(\\s*)```+\\s*([A-Za-z0-9_+-]*)")
	skipRE  = regexp.MustCompile(`^\s*<!--\s*docs-test:\s*skip\b\s*(.*?)\s*-->\s*$`)
	// devServeRE is a line that starts the dev server: the test runs its own.
	devServeRE = regexp.MustCompile(`^\s*(?:\./|go run \./cmd/)?ward serve --dev(?:\s|$)`)
	buildRE    = regexp.MustCompile(`^\s*go build -o ward \./cmd/ward(?:\s|$)`)
)

// parseBlocks returns the fenced blocks of a Markdown document whose info
// string is sh, with the skip marker on the nearest non-blank line before
// the fence. A skip marker without a reason is an error.
func parseBlocks(doc, text string) ([]block, error) {
	var out []block
	var cur *block
	var indent, prev string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRE.FindStringSubmatch(line)
		switch {
		case cur != nil && m != nil && m[2] == "" && len(m[1]) <= len(indent):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		case m != nil && m[2] == "sh":
			cur, indent = &block{doc: doc, line: n}, m[1]
			if s := skipRE.FindStringSubmatch(prev); s != nil {
				if s[1] == "" {
					return nil, fmt.Errorf("%s:%d: a docs-test skip marker needs a reason", doc, n-1)
				}
				cur.skip = s[1]
			}
		case m != nil:
			// another language's block: skip to its end
			cur, indent = &block{doc: doc, line: n, skip: "not sh"}, m[1]
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: fenced block never closed", doc, cur.line)
	}
	var sh []block
	for _, b := range out {
		if b.skip != "not sh" {
			sh = append(sh, b)
		}
	}
	return sh, sc.Err()
}

// script is the block as run: the dev server's start and the build
// dropped (already done), the dev URLs moved to ports.
func (b block) script(ports map[string]string) string {
	var lines []string
	for _, l := range strings.Split(b.text, "\n") {
		if devServeRE.MatchString(l) || buildRE.MatchString(l) {
			l = "# (done by the test) " + l
		}
		for from, to := range ports {
			l = strings.ReplaceAll(l, from, to)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// documents are README.md and docs/*.md, relative to the module root.
func documents(t *testing.T, root string) []string {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		out = append(out, filepath.Join("docs", filepath.Base(d)))
	}
	return out
}

// TestShellExamples runs every sh block of README.md and docs/*.md that is
// not marked skip (see the package comment), against a dev server of its
// own on free ports, and fails with the block's output on any error.
func TestShellExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the shell examples need %s, which is not installed: %v", tool, err)
		}
	}
	blocks := loadBlocks(t)
	run := 0
	for _, b := range blocks {
		if b.skip == "" {
			run++
		}
	}
	if run < 6 {
		t.Fatalf("only %d runnable sh blocks found in %d: is the parser broken?", run, len(blocks))
	}

	work := t.TempDir()
	binDir := filepath.Join(work, ".bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := wardtest.Build(binDir)
	if err != nil {
		t.Fatal(err)
	}
	ports := startDevServer(t, bin, work)
	shims := writeShims(t, work, bin)
	env := append(wardtest.CleanEnv(), "HOME="+filepath.Join(work, "home"), "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, b := range blocks {
		name := fmt.Sprintf("%s:%d", b.doc, b.line)
		if b.skip != "" {
			t.Logf("%s: skipped: %s", name, b.skip)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.script(ports))
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s: %v (fix the example; if it needs what one machine cannot give, precede it with <!-- docs-test: skip REASON -->)\n--- script:\n%s\n--- output:\n%s", name, err, b.script(ports), out)
		}
	}
}

// loadBlocks returns the sh blocks of README.md and docs/*.md.
func loadBlocks(t *testing.T) []block {
	root, err := wardtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	for _, d := range documents(t, root) {
		text, err := os.ReadFile(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseBlocks(d, string(text))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	return blocks
}

// startDevServer runs `ward serve --dev` on three free loopback ports with
// its data in work/ward-data, and returns the rewriting of the dev
// addresses to them.
func startDevServer(t *testing.T, bin, work string) map[string]string {
	as, gw, admin := wardtest.FreeAddr(t), wardtest.FreeAddr(t), wardtest.FreeAddr(t)
	p := wardtest.Start(t, bin, nil, "serve", "--dev", "--data", filepath.Join(work, "ward-data"),
		"--listen", as, "--gateway-listen", gw, "--admin-listen", admin)
	c := &http.Client{Timeout: 5 * time.Second}
	p.WaitReady(t, c, "http://"+as+"/.well-known/oauth-authorization-server", "http://"+admin+"/readyz", "http://"+gw+"/demo/public")
	return map[string]string{"127.0.0.1:9000": as, "127.0.0.1:9001": gw, "127.0.0.1:9002": admin}
}

// writeShims makes work/shims/ward and work/shims/curl, and ./ward in
// work, so that an HTTP error fails an example as any other error does:
// `ward curl` and `curl` run with -f (exit non-zero on a status of 400 or
// more), which a reader would otherwise only notice in the output.
func writeShims(t *testing.T, work, bin string) string {
	dir := filepath.Join(work, "shims")
	realCurl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"ward": "#!/bin/sh\nif [ \"$1\" = curl ]; then shift; exec " + bin + " curl -f \"$@\"; fi\nexec " + bin + " \"$@\"\n",
		"curl": "#!/bin/sh\nexec " + realCurl + " --fail \"$@\"\n",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// ./ward of the examples is the shim too.
	if err := os.WriteFile(filepath.Join(work, "ward"), []byte(files["ward"]), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
