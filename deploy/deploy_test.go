// Package deploy holds no code: it tests the deployment files beside it
// (Compose, NATS server configurations, Kubernetes manifests), so that a
// typo, a file a mount names but nobody wrote, or a Riposte key that does
// not exist is found here rather than by an operator's first `up`.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/riposte-soar/riposte/config"
)

// The environment the NATS configurations read their variables from.
var natsEnv = map[string]string{"NATS_PASSWORD": "test-password", "POD_NAME": "nats-0"}

func TestEveryYAMLParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return err
		}
		n++
		docs := decodeAll[any](t, p)
		if len(docs) == 0 {
			t.Errorf("%s: no YAML document", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("found %d YAML files under deploy/, want the image config, Compose and Kubernetes files", n)
	}
}

type composeService struct {
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Image     string         `yaml:"image"`
	Hostname  string         `yaml:"hostname"`
	Command   []string       `yaml:"command"`
	Volumes   []string       `yaml:"volumes"`
	DependsOn map[string]any `yaml:"depends_on"`
	Env       map[string]any `yaml:"environment"`
}

func TestCompose(t *testing.T) {
	const dir = "compose"
	docs := decodeAll[struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}](t, filepath.Join(dir, "compose.yaml"))
	if len(docs) != 1 {
		t.Fatalf("compose.yaml holds %d documents, want 1", len(docs))
	}
	c := docs[0]
	var riposte, nats []string
	for name := range c.Services {
		switch {
		case strings.HasPrefix(name, "riposte-"):
			riposte = append(riposte, name)
		case strings.HasPrefix(name, "nats-"):
			nats = append(nats, name)
		}
	}
	sort.Strings(riposte)
	sort.Strings(nats)
	if want := []string{"riposte-1", "riposte-2", "riposte-3"}; !slices.Equal(riposte, want) {
		t.Errorf("riposte services %v, want %v", riposte, want)
	}
	if want := []string{"nats-1", "nats-2", "nats-3"}; !slices.Equal(nats, want) {
		t.Errorf("nats services %v, want %v", nats, want)
	}
	if pg, ok := c.Services["postgres"]; !ok || !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Errorf("postgres service %+v, want image postgres:16", pg)
	}

	hostnames := map[string]string{}
	for name, s := range c.Services {
		if s.Hostname != "" {
			if other, dup := hostnames[s.Hostname]; dup {
				t.Errorf("%s and %s share the host name %s (a node's name)", name, other, s.Hostname)
			}
			hostnames[s.Hostname] = name
		}
		// Every bind mount names a file that is here; every named volume
		// is declared.
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(dir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s mounts the volume %s, which volumes: does not declare", name, src)
			}
		}
	}
	for _, name := range riposte {
		s := c.Services[name]
		if s.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
		} else if _, err := os.Stat(filepath.Join(dir, s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s builds from %s: %v", name, s.Build.Context, err)
		}
		for _, dep := range append([]string{"postgres"}, nats...) {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("%s does not depend on %s", name, dep)
			}
		}
		for _, k := range []string{"PGPASSWORD", "RIPOSTE_NATS_PASSWORD", "RIPOSTE_SECRET_KEY", "RIPOSTE_CONFIG"} {
			if _, ok := s.Env[k]; !ok {
				t.Errorf("%s lacks %s in its environment", name, k)
			}
		}
		if mount := bindMount(s.Volumes, "/etc/riposte/riposte.yaml"); mount == "" {
			t.Errorf("%s mounts no configuration at /etc/riposte/riposte.yaml", name)
		} else {
			checkRiposteConfig(t, filepath.Join(dir, mount))
		}
	}
	for _, name := range nats {
		s := c.Services[name]
		if !slices.Equal(s.Command, []string{"--config", "/etc/nats/nats.conf"}) {
			t.Errorf("%s command %v, want --config /etc/nats/nats.conf", name, s.Command)
		}
		mount := bindMount(s.Volumes, "/etc/nats/nats.conf")
		if mount == "" {
			t.Errorf("%s mounts no /etc/nats/nats.conf", name)
			continue
		}
		o := checkNATSConfig(t, filepath.Join(dir, mount), []string{"nats-1:6222", "nats-2:6222", "nats-3:6222"})
		if o != nil && o.ServerName != name {
			t.Errorf("%s: server_name %q, want the service's name", mount, o.ServerName)
		}
	}
}

// bindMount is the file bind-mounted at target, relative to the Compose
// file.
func bindMount(volumes []string, target string) string {
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target && strings.HasPrefix(parts[0], ".") {
			return parts[0]
		}
	}
	return ""
}

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Resources  []string          `yaml:"resources"`
	Spec       struct {
		Replicas    int    `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		ClusterIP   string `yaml:"clusterIP"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
						Items      []struct {
							Key string `yaml:"key"`
						} `yaml:"items"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name string `yaml:"name"`
	} `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

func TestKubernetes(t *testing.T) {
	const dir = "kubernetes"
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]k8sObject{} // by kind/name
	var kustomize *k8sObject
	for _, f := range files {
		for _, o := range decodeAll[k8sObject](t, f) {
			if o.Kind == "Kustomization" {
				kustomize = &o
				continue
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: an object without apiVersion, kind or metadata.name: %+v", f, o.Metadata)
				continue
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "riposte" {
				t.Errorf("%s: %s/%s is in namespace %q, want riposte", f, o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			key := o.Kind + "/" + o.Metadata.Name
			if _, dup := objs[key]; dup {
				t.Errorf("%s: %s defined twice", f, key)
			}
			objs[key] = o
		}
	}
	// kubectl apply -k applies every manifest here.
	if kustomize == nil {
		t.Fatal("no kustomization.yaml")
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(kustomize.Resources, b) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}
	for _, r := range kustomize.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}

	need := func(key string) k8sObject {
		t.Helper()
		o, ok := objs[key]
		if !ok {
			t.Fatalf("no %s among the manifests", key)
		}
		return o
	}
	secret := need("Secret/riposte")
	nats := need("StatefulSet/nats")
	if nats.Spec.Replicas != 3 {
		t.Errorf("StatefulSet/nats has %d replicas, want 3", nats.Spec.Replicas)
	}
	if h := need("Service/" + nats.Spec.ServiceName); h.Spec.ClusterIP != "None" {
		t.Errorf("Service/%s (the StatefulSet's) is not headless", nats.Spec.ServiceName)
	}
	var routes []string
	for i := 0; i < 3; i++ {
		routes = append(routes, "nats-"+string(rune('0'+i))+"."+nats.Spec.ServiceName+".riposte.svc:6222")
	}
	checkNATSConfig(t, writeTemp(t, "nats.conf", need("ConfigMap/nats").Data["nats.conf"]), routes)

	riposte := need("Deployment/riposte")
	if riposte.Spec.Replicas != 3 {
		t.Errorf("Deployment/riposte has %d replicas, want 3", riposte.Spec.Replicas)
	}
	need("Service/riposte")
	checkRiposteConfig(t, writeTemp(t, "riposte.yaml", need("ConfigMap/riposte").Data["riposte.yaml"]))

	for _, w := range []k8sObject{nats, riposte} {
		name := w.Kind + "/" + w.Metadata.Name
		for k, v := range w.Spec.Selector.MatchLabels {
			if w.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: the selector %s=%s does not match its pods' labels", name, k, v)
			}
		}
		ps := w.Spec.Template.Spec
		vols := map[string]bool{}
		for _, v := range ps.Volumes {
			vols[v.Name] = true
			if v.ConfigMap != nil {
				need("ConfigMap/" + v.ConfigMap.Name)
			}
			if v.Secret != nil {
				for _, it := range v.Secret.Items {
					if _, ok := secret.StringData[it.Key]; !ok || v.Secret.SecretName != "riposte" {
						t.Errorf("%s mounts %s from Secret/%s, which does not hold it", name, it.Key, v.Secret.SecretName)
					}
				}
			}
		}
		for _, c := range ps.Containers {
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] && !strings.HasPrefix(m.Name, "data") {
					t.Errorf("%s: %s mounts the undeclared volume %s", name, c.Name, m.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					if _, ok := secret.StringData[ref.Key]; !ok || ref.Name != "riposte" {
						t.Errorf("%s: %s reads %s from Secret/%s, which does not hold it", name, e.Name, ref.Key, ref.Name)
					}
				}
			}
		}
	}

	c := riposte.Spec.Template.Spec.Containers[0]
	for _, p := range []struct {
		what  string
		probe *k8sProbe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("Deployment/riposte has no HTTP %s probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe on %s, want %s", p.what, p.probe.HTTPGet.Path, p.path)
		}
		if !slices.ContainsFunc(c.Ports, func(q struct {
			Name string `yaml:"name"`
		}) bool {
			return q.Name == p.probe.HTTPGet.Port
		}) {
			t.Errorf("%s probe port %q is not a port of the container", p.what, p.probe.HTTPGet.Port)
		}
	}
	if !slices.Equal(c.Args, []string{"--config", "/etc/riposte/riposte.yaml"}) {
		t.Errorf("riposte args %v, want --config /etc/riposte/riposte.yaml", c.Args)
	}
	envs := map[string]bool{}
	for _, e := range c.Env {
		envs[e.Name] = true
	}
	for _, k := range []string{"RIPOSTE_DB_URL", "PGPASSWORD", "RIPOSTE_NATS_PASSWORD", "RIPOSTE_SECRET_KEY", "RIPOSTE_NODE"} {
		if !envs[k] {
			t.Errorf("Deployment/riposte does not set %s", k)
		}
	}
}

// checkRiposteConfig loads a Riposte configuration as serve does: any
// problem fails.
func checkRiposteConfig(t *testing.T, path string) {
	t.Helper()
	cfg, lines, err := config.LoadFile(path)
	var ps config.Problems
	if err != nil && !errors.As(err, &ps) {
		t.Errorf("%s: %v", path, err)
		return
	}
	ps = append(ps, cfg.Validate(lines)...)
	for _, p := range ps {
		t.Errorf("%s: %v", path, p)
	}
}

// checkNATSConfig loads a NATS server configuration as nats-server does and
// checks what the cluster mode relies on: JetStream, fsync before
// acknowledging, the cluster's routes, and a user for Riposte whose
// password comes from the environment.
func checkNATSConfig(t *testing.T, path string, routes []string) *server.Options {
	t.Helper()
	for k, v := range natsEnv {
		t.Setenv(k, v)
	}
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	if !o.JetStream || o.StoreDir != "/data" {
		t.Errorf("%s: jetstream %v with store_dir %q, want on /data", path, o.JetStream, o.StoreDir)
	}
	if !o.SyncAlways {
		t.Errorf("%s: sync_interval is not always: an acknowledged message may be lost with the machine", path)
	}
	if o.Cluster.Name != "riposte" || o.Cluster.Port != 6222 {
		t.Errorf("%s: cluster %q on port %d, want riposte on 6222", path, o.Cluster.Name, o.Cluster.Port)
	}
	var got []string
	for _, r := range o.Routes {
		got = append(got, r.Host)
	}
	if !slices.Equal(got, routes) {
		t.Errorf("%s: routes %v, want %v", path, got, routes)
	}
	if o.ServerName == "" || strings.HasPrefix(o.ServerName, "$") {
		t.Errorf("%s: server_name %q did not resolve", path, o.ServerName)
	}
	var users []string
	for _, u := range o.Users {
		users = append(users, u.Username)
		if u.Username == "riposte" && u.Password != natsEnv["NATS_PASSWORD"] {
			t.Errorf("%s: riposte's password is not $NATS_PASSWORD from the environment", path)
		}
	}
	if !slices.Contains(users, "riposte") {
		t.Errorf("%s: users %v, want riposte", path, users)
	}
	return o
}

// decodeAll reads every YAML document of path into a T, failing the test
// on a syntax error or a duplicate key.
func decodeAll[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return docs
		}
		docs = append(docs, v)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	if content == "" {
		t.Errorf("%s is empty in its ConfigMap", name)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
