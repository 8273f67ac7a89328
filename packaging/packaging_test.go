// Package packaging_test checks Ward's packaging: the Kubernetes
// manifests (they parse; the configuration in each ConfigMap passes
// config.Check with exactly the variables its Deployment provides; every
// file it names is mounted; probes hit the admin listener, which serves
// them), the systemd unit (systemd-analyze verify and security), and the
// container image (built with podman from the Dockerfile's final stage).
// What the machine lacks is skipped with a message.
package packaging_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // wardtest.PostgresSchema opens "pgx"
	"gopkg.in/yaml.v3"

	"github.com/wardauth/ward/config"
	"github.com/wardauth/ward/internal/wardtest"
)

// Just the parts of the Kubernetes objects the tests read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"` // ConfigMap
	Spec struct {
		Replicas     int           `yaml:"replicas"`
		MinAvailable *int          `yaml:"minAvailable"`
		MaxUnavail   *int          `yaml:"maxUnavailable"`
		Selector     selector      `yaml:"selector"` // Deployment, PodDisruptionBudget: matchLabels; Service: the labels
		Template     podTemplate   `yaml:"template"`
		Ports        []servicePort `yaml:"ports"`
	} `yaml:"spec"`
}

type selector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
	Labels      map[string]string `yaml:",inline"`
}

func (s selector) labels() map[string]string {
	if s.MatchLabels != nil {
		return s.MatchLabels
	}
	return s.Labels
}

type podTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
		SecurityContext              struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
			RunAsUser    int  `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []volume    `yaml:"volumes"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	StartupProbe    *probe `yaml:"startupProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"secret"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	TargetPort string `yaml:"targetPort"`
}

// manifests reads every document of the kustomization's resources.
func manifests(t *testing.T) []object {
	t.Helper()
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join("kubernetes", "kustomization.yaml"), &k)
	if len(k.Resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	var out []object
	for _, r := range k.Resources {
		b, err := os.ReadFile(filepath.Join("kubernetes", r))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document without apiVersion, kind or metadata.name", r)
			}
			out = append(out, o)
		}
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func find(objs []object, kind, name string) *object {
	for i := range objs {
		if objs[i].Kind == kind && objs[i].Metadata.Name == name {
			return &objs[i]
		}
	}
	return nil
}

// deployment is one Deployment with its ConfigMap's Ward configuration.
type deployment struct {
	obj  *object
	ctr  container
	cfg  *config.Config
	file string // the configuration's path in the container
	text string // the configuration, as in the ConfigMap
}

// TestKubernetesManifests: each Deployment has its ConfigMap, Service and
// PodDisruptionBudget; its Ward configuration passes config.Check with
// exactly the environment the Deployment provides; and it runs as a
// non-root user on a read-only root filesystem without capabilities.
func TestKubernetesManifests(t *testing.T) {
	objs := manifests(t)
	for _, name := range []string{"ward-authorization-server", "ward-gateway"} {
		t.Run(name, func(t *testing.T) {
			d := loadDeployment(t, objs, name)
			checkFilesMounted(t, d)
			checkProbes(t, d)
			checkSecurity(t, d)
			checkServiceAndPDB(t, objs, d)
		})
	}
}

// loadDeployment finds the Deployment name, its one container, and the
// ConfigMap mounted where its --config points, and checks that
// configuration with the Deployment's environment.
func loadDeployment(t *testing.T, objs []object, name string) *deployment {
	t.Helper()
	dep := find(objs, "Deployment", name)
	if dep == nil || len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("no Deployment %s with one container", name)
	}
	d := &deployment{obj: dep, ctr: dep.Spec.Template.Spec.Containers[0]}
	if i := slices.Index(d.ctr.Args, "--config"); i < 0 || i+1 >= len(d.ctr.Args) || d.ctr.Args[0] != "serve" {
		t.Fatalf("args %v: want serve --config FILE", d.ctr.Args)
	} else {
		d.file = d.ctr.Args[i+1]
	}
	cm := configMapAt(t, objs, d, filepath.Dir(d.file))
	text, ok := cm.Data[filepath.Base(d.file)]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", cm.Metadata.Name, filepath.Base(d.file))
	}
	env := map[string]bool{}
	for _, e := range d.ctr.Env {
		if e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
			t.Errorf("env %s: secrets come from secretKeyRef, never a literal value", e.Name)
		}
		env[e.Name] = true
	}
	lookup := func(k string) (string, bool) {
		if !env[k] {
			return "", false
		}
		return testValue(k), true
	}
	cfg, err := config.Check(d.file, []byte(text), lookup)
	if err != nil {
		t.Fatalf("the configuration in ConfigMap %s, with the Deployment's environment:\n%v", cm.Metadata.Name, err)
	}
	d.cfg, d.text = cfg, text
	return d
}

// testValue is a well-formed value for a variable the Deployment sets.
func testValue(name string) string {
	switch name {
	case config.EnvStoreDSN:
		return "postgres://ward@db:5432/ward"
	case config.EnvRedisURL:
		return "rediss://ward@redis:6380/0"
	}
	return "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes
}

// configMapAt is the ConfigMap volume mounted at dir.
func configMapAt(t *testing.T, objs []object, d *deployment, dir string) *object {
	t.Helper()
	for _, m := range d.ctr.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range d.obj.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				if cm := find(objs, "ConfigMap", v.ConfigMap.Name); cm != nil {
					return cm
				}
				t.Fatalf("volume %s names a missing ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
		}
	}
	t.Fatalf("no ConfigMap mounted at %s", dir)
	return nil
}

// checkFilesMounted: every file the configuration names is in a mounted
// volume (for a Secret volume, one of its items).
func checkFilesMounted(t *testing.T, d *deployment) {
	t.Helper()
	c := d.cfg
	files := []string{c.Keys.KEKFile, c.DPoP.Nonce.SecretFile, c.TLS.CertFile, c.TLS.KeyFile,
		c.Gateway.IdentityJWT.KeyFile, c.Gateway.Revocations.ClientSecretFile}
	for _, f := range files {
		if f == "" {
			continue
		}
		if !mounted(d, f) {
			t.Errorf("%s names %s, which no volume of the Deployment provides", d.file, f)
		}
	}
}

func mounted(d *deployment, file string) bool {
	for _, m := range d.ctr.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, file)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range d.obj.Spec.Template.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			if v.Secret == nil || len(v.Secret.Items) == 0 {
				return true
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return true
				}
			}
		}
	}
	return false
}

// checkProbes: liveness on /healthz and readiness on /readyz, both on the
// container port that is the configuration's admin listener.
func checkProbes(t *testing.T, d *deployment) {
	t.Helper()
	admin := d.cfg.AdminListen
	if d.cfg.Gateway.Enabled {
		admin = d.cfg.Gateway.AdminListen
	}
	_, port, err := net.SplitHostPort(admin)
	if err != nil {
		t.Fatalf("no admin listener in %s: the probes need one", d.file)
	}
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{{"livenessProbe", d.ctr.LivenessProbe, "/healthz"}, {"readinessProbe", d.ctr.ReadinessProbe, "/readyz"}} {
		if p.probe == nil {
			t.Errorf("no %s", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s on %q, want %s", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := containerPort(d.ctr, p.probe.HTTPGet.Port); got != port {
			t.Errorf("%s on container port %q (%s), want the admin listener's %s", p.name, p.probe.HTTPGet.Port, got, port)
		}
	}
}

// containerPort resolves a named or numbered port to its number.
func containerPort(c container, name string) string {
	for _, p := range c.Ports {
		if p.Name == name {
			return fmt.Sprint(p.ContainerPort)
		}
	}
	return name
}

func checkSecurity(t *testing.T, d *deployment) {
	t.Helper()
	pod := d.obj.Spec.Template.Spec
	sc := d.ctr.SecurityContext
	switch {
	case !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0:
		t.Error("the pod must run as a non-root user (runAsNonRoot, runAsUser)")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case !sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem must be true")
	case !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}):
		t.Error("capabilities must drop ALL")
	case pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken:
		t.Error("automountServiceAccountToken must be false: ward never calls the Kubernetes API")
	}
}

// checkServiceAndPDB: a Service and a PodDisruptionBudget of the same
// name select the Deployment's pods; the Service sends to the public
// listener, never to the admin one.
func checkServiceAndPDB(t *testing.T, objs []object, d *deployment) {
	t.Helper()
	pods := d.obj.Spec.Template.Metadata.Labels
	if !subset(d.obj.Spec.Selector.labels(), pods) {
		t.Errorf("the Deployment's selector does not match its pods")
	}
	svc := find(objs, "Service", d.obj.Metadata.Name)
	pdb := find(objs, "PodDisruptionBudget", d.obj.Metadata.Name)
	if svc == nil || pdb == nil {
		t.Fatalf("want a Service and a PodDisruptionBudget named %s", d.obj.Metadata.Name)
	}
	if !subset(svc.Spec.Selector.labels(), pods) || !subset(pdb.Spec.Selector.labels(), pods) {
		t.Errorf("Service or PodDisruptionBudget %s does not select the Deployment's pods", d.obj.Metadata.Name)
	}
	public := d.cfg.Listen
	if !d.cfg.AuthorizationServer.Enabled {
		public = d.cfg.Gateway.Listen
	}
	_, port, _ := net.SplitHostPort(public)
	for _, p := range svc.Spec.Ports {
		if got := containerPort(d.ctr, p.TargetPort); got != port {
			t.Errorf("Service port %s goes to %s, want the public listener's %s", p.Name, got, port)
		}
	}
	if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavail == nil {
		t.Errorf("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", pdb.Metadata.Name)
	}
	if d.obj.Spec.Replicas < 2 {
		t.Errorf("%d replicas: the scale-out shape runs at least two", d.obj.Spec.Replicas)
	}
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesProbesServed: `ward serve` with each ConfigMap's
// configuration (its listeners moved to free loopback ports, its Redis
// prefix and files the test's own) answers 200 on the probes' paths of
// its admin listener. The authorization server needs PostgreSQL, both
// need Redis: skipped (or failed under WARD_TEST_REQUIRE_SERVICES=1)
// when absent.
func TestKubernetesProbesServed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts ward: skipped under -short")
	}
	objs := manifests(t)
	bin, err := wardtest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	redisAddr, _, prefix := wardtest.Redis(t, "packaging")
	for _, name := range []string{"ward-gateway", "ward-authorization-server"} {
		t.Run(name, func(t *testing.T) {
			d := loadDeployment(t, objs, name)
			env := []string{"WARD_REDIS_URL=redis://" + redisAddr + "/0"}
			for _, e := range d.ctr.Env {
				if e.Name != config.EnvRedisURL && e.Name != config.EnvStoreDSN {
					env = append(env, e.Name+"="+testValue(e.Name))
				}
			}
			if d.cfg.AuthorizationServer.Enabled {
				env = append(env, config.EnvStoreDSN+"="+wardtest.PostgresSchema(t, "ward_pkg_").String())
			}
			file, admin := localConfig(t, d, prefix)
			p := wardtest.Start(t, bin, env, "serve", "--config", file)
			p.WaitReady(t, http.DefaultClient, admin+d.ctr.LivenessProbe.HTTPGet.Path)
			checkReadiness(t, d, admin+d.ctr.ReadinessProbe.HTTPGet.Path)
		})
	}
}

// checkReadiness: the readiness path answers 200, except that a gateway
// is not ready (503) until its revocation feed has synced once with the
// authorization servers, which this test does not run
// (https://auth.example.com): then the answer must say so.
func checkReadiness(t *testing.T, d *deployment, u string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusServiceUnavailable && !d.cfg.AuthorizationServer.Enabled && strings.Contains(string(b), "revocation"):
		t.Logf("%s: 503 until the revocation feed syncs, as expected without an authorization server: %s", u, strings.TrimSpace(string(b)))
	default:
		t.Fatalf("%s: %s %q", u, resp.Status, b)
	}
}

// localConfig writes d's configuration with 0.0.0.0 listeners on free
// loopback ports, the Redis key prefix replaced, and each file it names
// created under a temporary folder; it returns the file and the admin
// listener's URL.
func localConfig(t *testing.T, d *deployment, prefix string) (file, adminURL string) {
	t.Helper()
	text := d.text
	dir := t.TempDir()
	admin := wardtest.FreeAddr(t)
	r := []string{`"ward:prod:"`, strconv.Quote(prefix), "0.0.0.0:9002", admin}
	for _, port := range []string{"9000", "9001"} {
		r = append(r, "0.0.0.0:"+port, wardtest.FreeAddr(t))
	}
	for _, f := range []string{d.cfg.Gateway.IdentityJWT.KeyFile, d.cfg.Gateway.Revocations.ClientSecretFile} {
		if f == "" {
			continue
		}
		local := filepath.Join(dir, filepath.Base(f))
		writeFile(t, local, testFile(t, f))
		r = append(r, f, local)
	}
	file = filepath.Join(dir, "ward.yaml")
	writeFile(t, file, []byte(strings.NewReplacer(r...).Replace(text)))
	return file, "http://" + admin
}

// testFile is the content of a secret file: a PKCS#8 P-256 key for the
// identity JWT, else a client secret.
func testFile(t *testing.T, name string) []byte {
	t.Helper()
	if !strings.HasSuffix(name, ".pem") {
		return []byte("a-client-secret-for-the-packaging-test\n")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
