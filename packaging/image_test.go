package packaging_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardauth/ward/internal/wardtest"
)

// TestImage builds the Dockerfile's final stage (FROM scratch) with
// podman, from a static binary built here the way its build stage builds
// it (CGO off, trimpath, -X main.version), because the build stage's
// golang image cannot be pulled offline. It checks the image: user
// 65532, the entrypoint, nothing but the binary, CA certificates, passwd,
// group and /data (no shell); and that the binary taken out of the image
// runs (`ward version`). Running the container itself is not tried:
// where podman cannot set the container's rlimits (this sandbox) it fails
// for reasons that have nothing to do with the image. Skipped without
// podman.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image: skipped under -short")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman is not installed (Debian: apt-get install podman): the image is not built")
	}
	ctx := imageContext(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := "localhost/ward-packaging-test:" + hex.EncodeToString(b)
	if out, err := exec.Command(podman, "build", "-q", "-t", tag, ctx).CombinedOutput(); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", tag).Run() })
	out, err := exec.Command(podman, "image", "inspect", "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}", tag).CombinedOutput()
	if want := `65532:65532 ["/usr/local/bin/ward"] ["serve","--config","/etc/ward/ward.yaml"]`; err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("image config %q (%v), want %q", out, err, want)
	}
	files := exportImage(t, podman, tag)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	want := []string{"data/", "etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "usr/local/bin/ward"}
	for _, n := range names {
		if !strings.HasSuffix(n, "/") || n == "data/" {
			if !slices.Contains(want, n) {
				t.Errorf("unexpected file in the image: %s", n)
			}
		}
	}
	for _, w := range want {
		if _, ok := files[w]; !ok {
			t.Errorf("the image lacks %s", w)
		}
	}
	bin := filepath.Join(t.TempDir(), "ward")
	if err := os.WriteFile(bin, files["usr/local/bin/ward"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "version").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^ward v0\.0\.0-packaging-test[, ]`).Match(out) {
		t.Fatalf("ward version from the image: %v %q", err, out)
	}
}

// imageContext makes a build context for the Dockerfile's final stage:
// the files its build stage would make under /out, and the stage's text
// with COPY --from=build /out/... made local.
func imageContext(t *testing.T) string {
	t.Helper()
	df, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(df, []byte("\nFROM scratch\n"))
	if i < 0 {
		t.Fatal("the Dockerfile's final stage is not FROM scratch")
	}
	final := strings.ReplaceAll(string(df[i:]), "/out/", "out/")
	final = strings.ReplaceAll(final, "--from=build ", "")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(out, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := wardtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.version=v0.0.0-packaging-test", "-o", filepath.Join(out, "ward"), "./cmd/ward")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		ca = []byte("# no CA bundle on this machine\n")
	}
	for name, body := range map[string]string{
		"Dockerfile":              final,
		"out/etc/passwd":          "ward:x:65532:65532:ward:/data:/sbin/nologin\n",
		"out/etc/group":           "ward:x:65532:\n",
		"out/ca-certificates.crt": string(ca),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exportImage returns the files of a container created from tag, by path.
func exportImage(t *testing.T, podman, tag string) map[string][]byte {
	t.Helper()
	id, err := exec.Command(podman, "create", tag).Output()
	if err != nil {
		t.Fatalf("podman create: %v", err)
	}
	ctr := strings.TrimSpace(string(id))
	defer func() { _ = exec.Command(podman, "rm", "-f", ctr).Run() }()
	tarball, err := exec.Command(podman, "export", ctr).Output()
	if err != nil {
		t.Fatalf("podman export: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag == tar.TypeDir && !strings.HasSuffix(name, "/") {
			name += "/"
		}
		b, _ := io.ReadAll(tr)
		files[name] = b
	}
	return files
}
