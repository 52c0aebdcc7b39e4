package configs

// The deployment files (kubernetes/, grafana/, prometheus/) are checked here
// against the code, so they cannot drift from it: every environment variable
// a manifest sets is a real setting and the whole set validates; every metric
// and label that the dashboard and the alert rules name is one that the
// metrics package really registers (issue 5, "Deploy").

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/tenantgate/tenantgate/metrics"
)

const (
	manifestDir    = "kubernetes"
	exampleDir     = "kubernetes/examples"
	monitoringDir  = "kubernetes/monitoring"
	dashboardFile  = "grafana/tenantgate.json"
	alertRulesFile = "prometheus/alerts.yaml"
	scrapeFile     = "prometheus/scrape.yaml"

	// monitoringNamespace is the only namespace that may reach the admin port.
	monitoringNamespace = "monitoring"
)

// metabaseLabels are the labels the manifests expect Metabase's pods to
// carry (deployment.yaml says so).
var metabaseLabels = map[string]string{"app.kubernetes.io/name": "metabase"}

// apiVersions are the kinds the manifests may hold, with their API version.
var apiVersions = map[string]string{
	"Namespace":               "v1",
	"ServiceAccount":          "v1",
	"Secret":                  "v1",
	"Service":                 "v1",
	"Deployment":              "apps/v1",
	"PodDisruptionBudget":     "policy/v1",
	"HorizontalPodAutoscaler": "autoscaling/v2",
	"Ingress":                 "networking.k8s.io/v1",
	"NetworkPolicy":           "networking.k8s.io/v1",
	"ServiceMonitor":          "monitoring.coreos.com/v1",
	"PrometheusRule":          "monitoring.coreos.com/v1",
}

// ---- Kubernetes objects: only the fields the tests read ----

type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`

	file string
	doc  *yaml.Node
}

func (o k8sObject) String() string { return o.file + ": " + o.Kind + " " + o.Metadata.Name }

// intOrString is a Kubernetes IntOrString: a port number or name, a count or
// a percentage.
type intOrString string

func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number or a string", n.Line)
	}
	*v = intOrString(n.Value)
	return nil
}

type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []any             `yaml:"matchExpressions"`
}

// selects reports whether s selects objects labelled labels. Only
// matchLabels is supported; the manifests use nothing else.
func (s *labelSelector) selects(labels map[string]string) bool {
	if s == nil || len(s.MatchExpressions) > 0 {
		return false
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type deploymentSpec struct {
	Replicas *int          `yaml:"replicas"`
	Selector labelSelector `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	ServiceAccountName           string `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
	SecurityContext              struct {
		RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
		RunAsUser      *int64 `yaml:"runAsUser"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string      `yaml:"secretName"`
			Items      []keyToPath `yaml:"items"`
		} `yaml:"secret"`
		Projected *struct {
			Sources []struct {
				Secret *struct {
					Name  string      `yaml:"name"`
					Items []keyToPath `yaml:"items"`
				} `yaml:"secret"`
			} `yaml:"sources"`
		} `yaml:"projected"`
	} `yaml:"volumes"`
}

// keyToPath is an item of a secret volume: the Secret's key, as a file.
type keyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef     any `yaml:"secretKeyRef"`
			ResourceFieldRef any `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom      []any `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Privileged               *bool `yaml:"privileged"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet *struct {
		Path string      `yaml:"path"`
		Port intOrString `yaml:"port"`
	} `yaml:"httpGet"`
}

// port resolves a container port given by name or number.
func (c *container) port(p intOrString) (int, bool) {
	for _, cp := range c.Ports {
		if cp.Name == string(p) || strconv.Itoa(cp.ContainerPort) == string(p) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string      `yaml:"name"`
		Port       int         `yaml:"port"`
		TargetPort intOrString `yaml:"targetPort"`
	} `yaml:"ports"`
}

type pdbSpec struct {
	MinAvailable   *intOrString  `yaml:"minAvailable"`
	MaxUnavailable *intOrString  `yaml:"maxUnavailable"`
	Selector       labelSelector `yaml:"selector"`
}

type hpaSpec struct {
	ScaleTargetRef struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Name       string `yaml:"name"`
	} `yaml:"scaleTargetRef"`
	MinReplicas *int  `yaml:"minReplicas"`
	MaxReplicas int   `yaml:"maxReplicas"`
	Metrics     []any `yaml:"metrics"`
}

type ingressSpec struct {
	TLS []struct {
		Hosts []string `yaml:"hosts"`
	} `yaml:"tls"`
	Rules []struct {
		Host string `yaml:"host"`
		HTTP struct {
			Paths []struct {
				Path     string `yaml:"path"`
				PathType string `yaml:"pathType"`
				Backend  struct {
					Service struct {
						Name string `yaml:"name"`
						Port struct {
							Name   string `yaml:"name"`
							Number int    `yaml:"number"`
						} `yaml:"port"`
					} `yaml:"service"`
				} `yaml:"backend"`
			} `yaml:"paths"`
		} `yaml:"http"`
	} `yaml:"rules"`
}

type networkPolicySpec struct {
	PodSelector labelSelector `yaml:"podSelector"`
	PolicyTypes []string      `yaml:"policyTypes"`
	Ingress     []npRule      `yaml:"ingress"`
	Egress      []npRule      `yaml:"egress"`
}

type npRule struct {
	From  []npPeer `yaml:"from"`
	To    []npPeer `yaml:"to"`
	Ports []struct {
		Protocol string      `yaml:"protocol"`
		Port     intOrString `yaml:"port"`
	} `yaml:"ports"`
}

type npPeer struct {
	PodSelector       *labelSelector `yaml:"podSelector"`
	NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
	IPBlock           any            `yaml:"ipBlock"`
}

func (p npPeer) String() string {
	var parts []string
	if p.NamespaceSelector != nil {
		parts = append(parts, fmt.Sprintf("namespaceSelector %v", p.NamespaceSelector.MatchLabels))
	}
	if p.PodSelector != nil {
		parts = append(parts, fmt.Sprintf("podSelector %v", p.PodSelector.MatchLabels))
	}
	if p.IPBlock != nil {
		parts = append(parts, fmt.Sprintf("ipBlock %v", p.IPBlock))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// coversPort reports whether the rule applies to the port (an empty list is
// every port).
func (r npRule) coversPort(port int) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if string(p.Port) == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// onlyPods reports whether every peer is a pod of this namespace carrying
// labels (no namespace selector, no IP block, no selector that also picks
// other pods), and there is at least one.
func onlyPods(peers []npPeer, labels map[string]string) bool {
	other := map[string]string{"app.kubernetes.io/name": "another-app"}
	for _, p := range peers {
		if p.NamespaceSelector != nil || p.IPBlock != nil || !p.PodSelector.selects(labels) || p.PodSelector.selects(other) {
			return false
		}
	}
	return len(peers) > 0
}

type secretObject struct {
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

// ---- loading ----

// manifests is a set of objects deployed together: the plain manifests of
// kubernetes/ (with examples/ and monitoring/), or one rendering of the Helm
// chart (helm_test.go).
type manifests struct {
	name string
	all  []k8sObject
	// namespace is the release namespace of a rendering of the chart, where
	// every object must go; "" for the plain manifests, whose Namespace
	// object names theirs.
	namespace string
}

// plainDirs hold the plain manifests.
var plainDirs = []string{manifestDir, exampleDir, monitoringDir}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	return loadManifestDirs(t, "kubernetes", "", plainDirs...)
}

func loadManifestDirs(t *testing.T, name, namespace string, dirs ...string) *manifests {
	t.Helper()
	var files []string
	for _, dir := range dirs {
		for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
			m, err := filepath.Glob(filepath.Join(dir, ext))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, m...)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %v", dirs)
	}
	ms := &manifests{name: name, namespace: namespace}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		for i := 1; ; i++ {
			doc := new(yaml.Node)
			err := dec.Decode(doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d is not YAML: %v", f, i, err)
			}
			if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
				continue // an empty document, e.g. after a trailing ---
			}
			o := k8sObject{file: f, doc: doc}
			if err := doc.Decode(&o); err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			ms.all = append(ms.all, o)
		}
	}
	return ms
}

// eachManifestSet runs check, as a subtest, on the plain manifests and on
// every rendering of the Helm chart that .ci/run made (helm_test.go), so
// that both are held to the same checks.
func eachManifestSet(t *testing.T, check func(t *testing.T, ms *manifests)) {
	t.Run("kubernetes", func(t *testing.T) { check(t, loadManifests(t)) })
	for _, r := range helmRenderings(t) {
		t.Run("helm/"+r.name, func(t *testing.T) { check(t, r.load(t)) })
	}
}

// one returns the only object of kind, decoding its spec (or, for a
// Secret, the whole object) into spec.
func (ms *manifests) one(t *testing.T, kind string, spec any) k8sObject {
	t.Helper()
	found := ms.each(kind)
	if len(found) != 1 {
		t.Fatalf("want exactly one %s in the manifests, found %d", kind, len(found))
	}
	decodeSpec(t, found[0], spec)
	return found[0]
}

func (ms *manifests) each(kind string) []k8sObject {
	var out []k8sObject
	for _, o := range ms.all {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// rendered reports whether ms is a rendering of the Helm chart.
func (ms *manifests) rendered() bool { return ms.namespace != "" }

func decodeSpec(t *testing.T, o k8sObject, spec any) {
	t.Helper()
	node := o.doc
	if _, isSecret := spec.(*secretObject); !isSecret {
		var obj struct {
			Spec yaml.Node `yaml:"spec"`
		}
		if err := o.doc.Decode(&obj); err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		node = &obj.Spec
	}
	if err := node.Decode(spec); err != nil {
		t.Fatalf("%s: %v", o, err)
	}
}

// gate is the Deployment's pod: its labels and its one container.
type gate struct {
	obj       k8sObject
	spec      deploymentSpec
	labels    map[string]string
	container *container
}

func loadGate(t *testing.T, ms *manifests) *gate {
	t.Helper()
	g := new(gate)
	g.obj = ms.one(t, "Deployment", &g.spec)
	g.labels = g.spec.Template.Metadata.Labels
	if n := len(g.spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", n)
	}
	g.container = &g.spec.Template.Spec.Containers[0]
	return g
}

// env returns the value of the container's variable name.
func (c *container) env(name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// hpaFor returns the HPA that scales the gate's Deployment, or nil.
func (ms *manifests) hpaFor(t *testing.T, g *gate) *hpaSpec {
	t.Helper()
	for _, o := range ms.each("HorizontalPodAutoscaler") {
		var hpa hpaSpec
		decodeSpec(t, o, &hpa)
		ref := hpa.ScaleTargetRef
		if ref.Kind == "Deployment" && ref.Name == g.obj.Metadata.Name {
			return &hpa
		}
	}
	return nil
}

// minReplicas is how many gates run at least: the HPA's floor when one
// scales the Deployment, else the Deployment's replicas.
func (ms *manifests) minReplicas(t *testing.T, g *gate) int {
	t.Helper()
	if hpa := ms.hpaFor(t, g); hpa != nil {
		return deref(hpa.MinReplicas)
	}
	if g.spec.Replicas == nil {
		return 1 // Kubernetes' default
	}
	return *g.spec.Replicas
}

// ---- the manifests ----

// wantKinds are the kinds the set must hold: every kind for the plain
// manifests but the PrometheusRule (alerts.yaml is the plain rule file), and
// for a rendering of the chart those it always renders.
func (ms *manifests) wantKinds() []string {
	if ms.rendered() {
		return []string{"ServiceAccount", "Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"}
	}
	var kinds []string
	for kind := range apiVersions {
		if kind != "PrometheusRule" {
			kinds = append(kinds, kind)
		}
	}
	return kinds
}

func TestManifestsAreKubernetesObjects(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		namespaces := map[string]bool{}
		var declared []string // the Namespace objects
		seen := map[string]bool{}
		for _, o := range ms.all {
			want, known := apiVersions[o.Kind]
			switch {
			case !known:
				t.Errorf("%s: kind %q is not one this test checks (add it to apiVersions and test it)", o, o.Kind)
			case o.APIVersion != want:
				t.Errorf("%s: apiVersion = %q, want %q", o, o.APIVersion, want)
			}
			if o.Metadata.Name == "" {
				t.Errorf("%s: no metadata.name", o)
			}
			key := o.Kind + "/" + o.Metadata.Name
			if seen[key] {
				t.Errorf("%s: defined twice", o)
			}
			seen[key] = true
			if o.Kind == "Namespace" {
				// Not the gate's: Metabase lives in it too.
				declared = append(declared, o.Metadata.Name)
				continue
			}
			if o.Metadata.Labels["app.kubernetes.io/name"] != "tenantgate" {
				t.Errorf("%s: label app.kubernetes.io/name = %q, want tenantgate", o, o.Metadata.Labels["app.kubernetes.io/name"])
			}
			namespaces[o.Metadata.Namespace] = true
		}
		got := slices.Sorted(maps.Keys(namespaces))
		if ms.rendered() {
			// helm install --create-namespace creates the namespace; a chart
			// that did could not install into an existing one.
			if len(declared) > 0 {
				t.Errorf("the chart renders the Namespace %v: leave it to helm install -n NS --create-namespace", declared)
			}
			if len(namespaces) != 1 || !namespaces[ms.namespace] {
				t.Errorf("objects are in namespaces %q, want all in the release namespace %q (.Release.Namespace)", got, ms.namespace)
			}
		} else {
			if len(namespaces) != 1 || namespaces[""] {
				t.Errorf("objects are in namespaces %q, want all in one named namespace", got)
			}
			if len(declared) != 1 || !namespaces[declared[0]] {
				t.Errorf("Namespace objects %q: want one, for the namespace %q of the other objects", declared, got)
			}
		}
		for _, kind := range ms.wantKinds() {
			if len(ms.each(kind)) == 0 {
				t.Errorf("no %s in the manifests", kind)
			}
		}
	})
}

func TestDeploymentIsHardened(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		g := loadGate(t, ms)
		spec, pod, c := g.spec, g.spec.Template.Spec, g.container

		// With an HPA, the Deployment sets no replicas: every apply would
		// reset the HPA's count to it.
		if hpa := ms.hpaFor(t, g); hpa != nil {
			if spec.Replicas != nil {
				t.Errorf("replicas = %d while an HPA scales the Deployment: remove it, the HPA owns the count", *spec.Replicas)
			}
		} else if spec.Replicas == nil || *spec.Replicas < 2 {
			t.Errorf("replicas = %v and no HPA, want at least 2", deref(spec.Replicas))
		}
		if len(spec.Selector.MatchLabels) == 0 || !spec.Selector.selects(g.labels) {
			t.Errorf("selector %v does not select the pod template's labels %v", spec.Selector.MatchLabels, g.labels)
		}

		// Probes on the admin port: /healthz for liveness, /readyz for readiness.
		admin, ok := c.port("admin")
		if !ok {
			t.Fatal(`the container has no port named "admin"`)
		}
		for _, p := range []struct {
			name  string
			probe *probe
			path  string
		}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe", p.name)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s path = %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
			}
			if port, ok := c.port(p.probe.HTTPGet.Port); !ok || port != admin {
				t.Errorf("%s port = %q, want the admin port (%d)", p.name, p.probe.HTTPGet.Port, admin)
			}
		}

		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" {
				t.Errorf("no resources.requests.%s", r)
			}
			if c.Resources.Limits[r] == "" {
				t.Errorf("no resources.limits.%s", r)
			}
		}
		checkGoMemLimit(t, c)

		sc := c.SecurityContext
		if !isTrue(pod.SecurityContext.RunAsNonRoot) && !isTrue(sc.RunAsNonRoot) {
			t.Error("runAsNonRoot is not true")
		}
		if u := pod.SecurityContext.RunAsUser; u != nil && *u == 0 {
			t.Error("runAsUser is 0 (root)")
		}
		if pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("seccompProfile.type = %q, want RuntimeDefault", pod.SecurityContext.SeccompProfile.Type)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if isTrue(sc.Privileged) {
			t.Error("the container is privileged")
		}
		if !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities: drop %v, add %v; want drop [ALL] and no add", sc.Capabilities.Drop, sc.Capabilities.Add)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Error("automountServiceAccountToken is not false: the gate never calls the Kubernetes API")
		}
		name := c.Image[strings.LastIndex(c.Image, "/")+1:]
		pinned := strings.Contains(c.Image, "@") || strings.Contains(name, ":") && !strings.HasSuffix(name, ":latest")
		if !pinned {
			t.Errorf("image %q: want a pinned tag or digest", c.Image)
		}
	})
}

// goMemLimitRange is how much of the container's memory limit GOMEMLIMIT
// may be: above it, what the Go heap does not count (stacks, the binary,
// kernel buffers) pushes the container over its limit before the collector
// works harder; far below it, the memory is paid for and never used.
var goMemLimitRange = [2]float64{0.6, 0.9}

// checkGoMemLimit checks that GOMEMLIMIT is a fixed value leaving headroom
// under the container's memory limit.
func checkGoMemLimit(t *testing.T, c *container) {
	t.Helper()
	limit, err := parseQuantity(c.Resources.Limits["memory"])
	if err != nil {
		t.Errorf("resources.limits.memory: %v", err)
		return
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		if e.ValueFrom != nil {
			t.Errorf("GOMEMLIMIT is taken from %v: that is the whole memory limit; set a value at %.0f%%-%.0f%% of it", e.ValueFrom, goMemLimitRange[0]*100, goMemLimitRange[1]*100)
			return
		}
		soft, err := parseGoMemLimit(e.Value)
		if err != nil {
			t.Errorf("GOMEMLIMIT: %v", err)
			return
		}
		if r := soft / limit; r < goMemLimitRange[0] || r > goMemLimitRange[1] {
			t.Errorf("GOMEMLIMIT %s is %.0f%% of the memory limit %s, want %.0f%%-%.0f%%", e.Value, r*100, c.Resources.Limits["memory"], goMemLimitRange[0]*100, goMemLimitRange[1]*100)
		}
		return
	}
	t.Error("no GOMEMLIMIT: set it below the memory limit so the Go heap stays under it")
}

// parseQuantity reads a Kubernetes memory quantity such as 256Mi or 1G.
func parseQuantity(q string) (float64, error) {
	for _, u := range []struct {
		suffix string
		factor float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"", 1}} {
		if n, ok := strings.CutSuffix(q, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("quantity %q: want a positive number with a unit such as Mi", q)
			}
			return v * u.factor, nil
		}
	}
	panic("unreachable: the empty suffix matches")
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: an integer with
// an optional B, KiB, MiB, GiB or TiB.
func parseGoMemLimit(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		factor float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}, {"", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseUint(n, 10, 63)
			if err != nil || v == 0 {
				return 0, fmt.Errorf("%q is not a size the Go runtime reads (e.g. 230MiB)", s)
			}
			return float64(v) * u.factor, nil
		}
	}
	panic("unreachable: the empty suffix matches")
}

func TestParseMemorySizes(t *testing.T) {
	for _, tc := range []struct {
		name, quantity, goLimit string
		ratio                   float64
	}{
		{"the shipped pair", "256Mi", "230MiB", 230.0 / 256},
		{"Gi and bytes", "1Gi", "966367641", 0.9},
		{"decimal units", "1G", "500000000B", 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseQuantity(tc.quantity)
			if err != nil {
				t.Fatal(err)
			}
			g, err := parseGoMemLimit(tc.goLimit)
			if err != nil {
				t.Fatal(err)
			}
			if r := g / q; r < tc.ratio-0.001 || r > tc.ratio+0.001 {
				t.Errorf("%s / %s = %f, want %f", tc.goLimit, tc.quantity, r, tc.ratio)
			}
		})
	}
	for _, bad := range []string{"256MB", "off", "1.5GiB", "-1"} {
		if _, err := parseGoMemLimit(bad); err == nil {
			t.Errorf("parseGoMemLimit(%q): want an error", bad)
		}
	}
	if _, err := parseQuantity("lots"); err == nil {
		t.Error(`parseQuantity("lots"): want an error`)
	}
}

// settingNames returns every environment variable the loader reads: the
// bindings, the _FILE variant of each secret, and TENANTGATE_CONFIG.
func settingNames() (all map[string]bool, secrets []string) {
	all = map[string]bool{"TENANTGATE_CONFIG": true}
	for _, b := range new(Config).bindings() {
		all[b.env] = true
		if b.isSecret() {
			all[b.env+"_FILE"] = true
			secrets = append(secrets, b.env)
		}
	}
	return all, secrets
}

// goRuntimeEnv are variables of the Go runtime, not of tenantgate, that a
// manifest may set.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true}

// deploySecrets are valid values of the secrets the Deployment mounts: the
// example file's, and the audit guard's API key.
func deploySecrets() map[string]string {
	s := maps.Clone(exampleSecrets)
	s["METABASE_API_KEY"] = "mb_AuditGuardKeyOfTheAdministratorsGroup0123456789="
	return s
}

// secretFile is a key of a Secret, as a file of a volume.
type secretFile struct{ secret, key string }

// secretFiles resolves the files of the container's secret volumes: files
// maps a file path to its Secret and key, and dirs a mount path to the
// Secret all of whose keys are files there.
func secretFiles(t *testing.T, g *gate) (files map[string]secretFile, dirs map[string]string) {
	t.Helper()
	files, dirs = map[string]secretFile{}, map[string]string{}
	add := func(mount, secret string, items []keyToPath) {
		if len(items) == 0 {
			dirs[mount] = secret
		}
		for _, it := range items {
			files[filepath.Join(mount, it.Path)] = secretFile{secret, it.Key}
		}
	}
	for _, vm := range g.container.VolumeMounts {
		for _, v := range g.spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.Secret == nil && v.Projected == nil {
				continue
			}
			if !vm.ReadOnly {
				t.Errorf("the secret volume %s is mounted writable", vm.Name)
			}
			if v.Secret != nil {
				add(vm.MountPath, v.Secret.SecretName, v.Secret.Items)
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					add(vm.MountPath, src.Secret.Name, src.Secret.Items)
				}
			}
		}
	}
	return files, dirs
}

// TestDeploymentEnvIsAValidConfig checks that the Deployment sets only real
// settings, passes every secret as a file of a mounted Secret, and that what
// it sets, with real secrets in those files, passes `check-config`, with the
// audit guard on and the ingress controller trusted.
func TestDeploymentEnvIsAValidConfig(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		g := loadGate(t, ms)
		c := g.container
		examples := map[string]secretObject{} // the example Secrets, by name
		for _, o := range ms.each("Secret") {
			var s secretObject
			decodeSpec(t, o, &s)
			examples[o.Metadata.Name] = s
			if s.Type != "Opaque" {
				t.Errorf("%s: type = %q, want Opaque", o, s.Type)
			}
		}
		settings, secrets := settingNames()

		if len(c.EnvFrom) > 0 {
			t.Error("envFrom hides which settings are set: list each variable under env")
		}
		env := map[string]string{}
		for _, e := range c.Env {
			switch {
			case goRuntimeEnv[e.Name]:
				continue
			case !settings[e.Name]:
				t.Errorf("env %s is not a tenantgate setting (README: Settings)", e.Name)
			case e.ValueFrom != nil:
				t.Errorf("env %s: take it from value, or a secret from a file (%s_FILE)", e.Name, strings.TrimSuffix(e.Name, "_FILE"))
			}
			if _, dup := env[e.Name]; dup {
				t.Errorf("env %s is set twice", e.Name)
			}
			env[e.Name] = e.Value
		}
		for _, want := range []string{"METABASE_SITE_URL", "TENANTGATE_PUBLIC_PREFIX", "TENANTGATE_FRAME_ANCESTORS", "TENANTGATE_TRUSTED_PROXIES",
			"MB_EMBEDDING_SECRET_KEY_FILE", "TENANTGATE_SESSION_JWT_SECRET_FILE", "TENANTGATE_HANDLE_SECRET_FILE", "METABASE_API_KEY_FILE"} {
			if _, ok := env[want]; !ok {
				t.Errorf("the Deployment does not set %s", want)
			}
		}

		// Secrets: only as files, each a key of a Secret mounted read-only.
		files, dirs := secretFiles(t, g)
		realFiles := map[string]string{}    // env → a file holding a valid secret
		placeholders := map[string]string{} // env → a file holding the example's placeholder
		valid := deploySecrets()
		dir := t.TempDir()
		for _, name := range secrets {
			if _, ok := env[name]; ok {
				t.Errorf("%s is set as a variable: mount it and set %s_FILE", name, name)
			}
			path, ok := env[name+"_FILE"]
			if !ok {
				continue
			}
			f, ok := files[path]
			if secret, inDir := dirs[filepath.Dir(path)]; !ok && inDir {
				f, ok = secretFile{secret, filepath.Base(path)}, true
			}
			if !ok {
				t.Errorf("%s_FILE = %s is not a file of a mounted Secret", name, path)
				continue
			}
			v, ok := valid[name]
			if !ok {
				t.Fatalf("no test value for the secret %s: add one to deploySecrets", name)
			}
			realFiles[name+"_FILE"] = writeSecret(t, dir, "real-"+f.key, v)
			example, ok := examples[f.secret]
			if !ok {
				// A rendering of the chart names an existing Secret; the plain
				// manifests ship an example of each Secret they mount.
				if !ms.rendered() {
					t.Errorf("%s_FILE names the Secret %q, which examples/ lacks", name, f.secret)
				}
				continue
			}
			placeholder, ok := example.StringData[f.key]
			if !ok {
				t.Errorf("%s_FILE names the key %q, which the example Secret %q lacks", name, f.key, f.secret)
			}
			placeholders[name+"_FILE"] = writeSecret(t, dir, "placeholder-"+f.key, placeholder)
		}

		// The Deployment's settings, with real secrets, are a valid serve config.
		withFiles := func(files map[string]string) func(string) (string, bool) {
			return func(k string) (string, bool) {
				if v, ok := files[k]; ok {
					return v, true
				}
				v, ok := env[k]
				return v, ok
			}
		}
		cfg, err := LoadAndValidate("", withFiles(realFiles), ModeServe)
		if err != nil {
			t.Fatalf("the Deployment's settings do not validate:\n%v", err)
		}
		for name, listen := range map[string]string{"http": cfg.Listen, "admin": cfg.AdminListen} {
			_, port, err := net.SplitHostPort(listen)
			if err != nil {
				t.Fatalf("listen address %q: %v", listen, err)
			}
			if got, ok := c.port(intOrString(name)); !ok || strconv.Itoa(got) != port {
				t.Errorf("container port %q = %d, but the gate listens on %s", name, got, listen)
			}
		}
		if cfg.PublicPrefix != "/analytics" {
			t.Errorf("TENANTGATE_PUBLIC_PREFIX = %q, want /analytics", cfg.PublicPrefix)
		}
		if len(cfg.FrameAncestors) == 0 || slices.Contains(cfg.FrameAncestors, "*") {
			t.Errorf("TENANTGATE_FRAME_ANCESTORS = %v, want the app's origin", cfg.FrameAncestors)
		}
		// The audit guard runs only with an API key (README "Auditing
		// Metabase"); without it, a card an editor leaves unwired leaks.
		if cfg.Metabase.APIKey == "" {
			t.Error("the audit guard is off: set METABASE_API_KEY_FILE to a key of the mounted Secret")
		}
		// The ingress controller's X-Forwarded-* are kept only when its
		// address is trusted. Trusting a CIDR is safe because the
		// NetworkPolicy lets only the ingress controller's namespace reach
		// the public port (TestNetworkPoliciesIsolateMetabaseAndTheAdminPort).
		if len(cfg.TrustedProxies) == 0 {
			t.Error("TENANTGATE_TRUSTED_PROXIES is empty: the ingress controller's X-Forwarded-For is dropped")
		}
		for _, p := range cfg.TrustedProxies {
			if prefix, err := netip.ParsePrefix(p); err == nil && prefix.Bits() == 0 {
				t.Errorf("TENANTGATE_TRUSTED_PROXIES %s trusts every address: anyone could forge X-Forwarded-For", p)
			}
		}

		// The example's placeholders must not work as secrets.
		_, err = LoadAndValidate("", withFiles(placeholders), ModeServe)
		for _, name := range secrets {
			if _, ok := placeholders[name+"_FILE"]; ok && (err == nil || !strings.Contains(err.Error(), name)) {
				t.Errorf("the example Secret's placeholder for %s passes validation: %v", name, err)
			}
		}
	})
}

func writeSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServicePDBAndHPATargetTheGate(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		g := loadGate(t, ms)

		var svc serviceSpec
		ms.one(t, "Service", &svc)
		if len(svc.Selector) == 0 || !(&labelSelector{MatchLabels: svc.Selector}).selects(g.labels) {
			t.Errorf("Service selector %v does not select the gate's pods %v", svc.Selector, g.labels)
		}
		ports := map[string]int{}
		for _, p := range svc.Ports {
			target, ok := g.container.port(p.TargetPort)
			if !ok {
				t.Errorf("Service port %s targets %q, not a container port", p.Name, p.TargetPort)
			}
			ports[p.Name] = target
			if p.Port != target {
				t.Errorf("Service port %s is %d but targets %d: keep them equal", p.Name, p.Port, target)
			}
		}
		if ports["http"] != 8080 || ports["admin"] != 9090 {
			t.Errorf("Service ports = %v, want http 8080 and admin 9090", ports)
		}

		replicas := ms.minReplicas(t, g)
		var pdb pdbSpec
		ms.one(t, "PodDisruptionBudget", &pdb)
		if !pdb.Selector.selects(g.labels) {
			t.Errorf("PodDisruptionBudget selector %v does not select the gate's pods", pdb.Selector.MatchLabels)
		}
		switch {
		case pdb.MinAvailable != nil:
			n, err := strconv.Atoi(string(*pdb.MinAvailable))
			if err != nil || n < 1 || n >= replicas {
				t.Errorf("minAvailable = %s: want at least 1 and fewer than the %d replicas, so a drain can proceed", *pdb.MinAvailable, replicas)
			}
		case pdb.MaxUnavailable == nil:
			t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
		}

		var hpa hpaSpec
		ms.one(t, "HorizontalPodAutoscaler", &hpa)
		ref := hpa.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != g.obj.Metadata.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA scales %s %s (%s), want Deployment %s (apps/v1)", ref.Kind, ref.Name, ref.APIVersion, g.obj.Metadata.Name)
		}
		if hpa.MinReplicas == nil || *hpa.MinReplicas < 2 {
			t.Errorf("HPA minReplicas = %v, want at least 2", deref(hpa.MinReplicas))
		}
		if hpa.MaxReplicas < deref(hpa.MinReplicas) || len(hpa.Metrics) == 0 {
			t.Errorf("HPA maxReplicas = %d with %d metrics: want ≥ minReplicas and a metric", hpa.MaxReplicas, len(hpa.Metrics))
		}
	})
}

func TestIngressRoutesTheAnalyticsPathToTheGate(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		if ms.rendered() && len(ms.each("Ingress")) == 0 {
			t.Skip("this rendering has no Ingress (ingress.enabled=false)")
		}
		g := loadGate(t, ms)
		var svc serviceSpec
		svcObj := ms.one(t, "Service", &svc)
		var ing ingressSpec
		ms.one(t, "Ingress", &ing)
		prefix, _ := g.container.env("TENANTGATE_PUBLIC_PREFIX")

		public, _ := g.container.port("http")
		admin, _ := g.container.port("admin")
		routed := false
		for _, r := range ing.Rules {
			if r.Host == "" {
				t.Error("an Ingress rule has no host: route the app's own host only")
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b.Name != svcObj.Metadata.Name {
					continue
				}
				target := 0
				for _, sp := range svc.Ports {
					if sp.Name == b.Port.Name || (b.Port.Number != 0 && sp.Port == b.Port.Number) {
						target, _ = g.container.port(sp.TargetPort)
					}
				}
				switch {
				case target == admin:
					t.Errorf("the Ingress exposes the admin port at %s%s", r.Host, p.Path)
				case target != public:
					t.Errorf("the Ingress path %s goes to the Service port %+v, not the public port", p.Path, b.Port)
				case p.Path != prefix || p.PathType != "Prefix":
					t.Errorf("the Ingress routes %s (%s) to the gate, want %s (Prefix), the public prefix", p.Path, p.PathType, prefix)
				default:
					routed = true
				}
			}
			tls := false
			for _, tl := range ing.TLS {
				tls = tls || slices.Contains(tl.Hosts, r.Host)
			}
			if !tls {
				t.Errorf("the Ingress serves %s without TLS", r.Host)
			}
		}
		if !routed {
			t.Errorf("no Ingress path routes %s to the gate's public port", prefix)
		}
	})
}

func TestNetworkPoliciesIsolateMetabaseAndTheAdminPort(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		g := loadGate(t, ms)
		admin, _ := g.container.port("admin")
		public, _ := g.container.port("http")
		mbPort := 3000
		if site, ok := g.container.env("METABASE_SITE_URL"); ok {
			u, err := url.Parse(site)
			if err != nil || u.Port() == "" {
				t.Fatalf("METABASE_SITE_URL %q: want a URL with a port", site)
			}
			mbPort, _ = strconv.Atoi(u.Port())
		}

		var metabase, gatePolicy *networkPolicySpec
		for _, o := range ms.each("NetworkPolicy") {
			var np networkPolicySpec
			decodeSpec(t, o, &np)
			switch {
			case np.PodSelector.selects(metabaseLabels):
				metabase = &np
			case np.PodSelector.selects(g.labels):
				gatePolicy = &np
			}
		}
		if metabase == nil || gatePolicy == nil {
			t.Fatalf("want a NetworkPolicy selecting Metabase's pods %v and one selecting the gate's %v", metabaseLabels, g.labels)
		}

		// Metabase: ingress from the gate's pods only.
		if !slices.Contains(metabase.PolicyTypes, "Ingress") {
			t.Error("Metabase's NetworkPolicy does not restrict Ingress")
		}
		if len(metabase.Ingress) == 0 {
			t.Error("Metabase's NetworkPolicy lets nothing in, not even the gate")
		}
		for i, r := range metabase.Ingress {
			if !onlyPods(r.From, g.labels) {
				t.Errorf("Metabase's ingress rule %d lets in more than the gate's pods: %v", i, r.From)
			}
			if !r.coversPort(mbPort) {
				t.Errorf("Metabase's ingress rule %d does not cover its port %d", i, mbPort)
			}
		}

		// The gate: admin port from the monitoring namespace only; public
		// port from a namespace (the ingress controller's) only, which is
		// what makes trusting its pod CIDR's X-Forwarded-For safe; out to
		// Metabase if egress is restricted.
		if !slices.Contains(gatePolicy.PolicyTypes, "Ingress") {
			t.Fatal("the gate's NetworkPolicy does not restrict Ingress")
		}
		publicOpen := false
		for i, r := range gatePolicy.Ingress {
			if r.coversPort(public) {
				publicOpen = true
				for _, p := range r.From {
					if p.NamespaceSelector == nil || p.IPBlock != nil || len(p.NamespaceSelector.MatchLabels) == 0 {
						t.Errorf("the gate's ingress rule %d lets %v reach the public port, want only the ingress controller's namespace", i, p)
					}
				}
				if len(r.From) == 0 {
					t.Errorf("the gate's ingress rule %d opens the public port to every pod, which could forge X-Forwarded-For from the trusted CIDR", i)
				}
			}
			if !r.coversPort(admin) {
				continue
			}
			if len(r.From) == 0 {
				t.Errorf("the gate's ingress rule %d opens the admin port to everyone", i)
			}
			for _, p := range r.From {
				// A namespace selector that also selects "default" selects
				// more than the monitoring namespace.
				if p.NamespaceSelector == nil || p.IPBlock != nil ||
					!p.NamespaceSelector.selects(map[string]string{"kubernetes.io/metadata.name": monitoringNamespace}) ||
					p.NamespaceSelector.selects(map[string]string{"kubernetes.io/metadata.name": "default"}) {
					t.Errorf("the gate's ingress rule %d lets %v reach the admin port, want only the %s namespace", i, p, monitoringNamespace)
				}
			}
		}
		if !publicOpen {
			t.Errorf("the gate's NetworkPolicy lets nothing reach the public port %d", public)
		}
		if slices.Contains(gatePolicy.PolicyTypes, "Egress") {
			reaches := false
			for _, r := range gatePolicy.Egress {
				for _, p := range r.To {
					if p.NamespaceSelector == nil && p.PodSelector.selects(metabaseLabels) && r.coversPort(mbPort) {
						reaches = true
					}
				}
			}
			if !reaches {
				t.Errorf("the gate's egress policy does not let it reach Metabase on port %d", mbPort)
			}
		}
	})
}

// ---- scraping: the job the alerts watch ----

type serviceMonitorSpec struct {
	JobLabel          string        `yaml:"jobLabel"`
	Selector          labelSelector `yaml:"selector"`
	NamespaceSelector struct {
		Any        bool     `yaml:"any"`
		MatchNames []string `yaml:"matchNames"`
	} `yaml:"namespaceSelector"`
	Endpoints []struct {
		Port string `yaml:"port"`
		Path string `yaml:"path"`
	} `yaml:"endpoints"`
}

// alertsOf returns the alert rules that go with the set: a rendering's
// PrometheusRule, or alerts.yaml for the plain manifests.
func alertsOf(t *testing.T, ms *manifests) []alertRule {
	t.Helper()
	groups := loadAlertRules(t, alertRulesFile)
	if ms.rendered() {
		groups = nil
		for _, o := range ms.each("PrometheusRule") {
			var spec struct {
				Groups []ruleGroup `yaml:"groups"`
			}
			decodeSpec(t, o, &spec)
			groups = append(groups, spec.Groups...)
		}
	}
	var out []alertRule
	for _, g := range groups {
		out = append(out, g.Rules...)
	}
	return out
}

// checkAlertTargets checks that every job and deployment matcher of the
// rules names what the manifests produce: job the scrape job of the gates,
// deployment the gate's Deployment in namespace.
func checkAlertTargets(t *testing.T, rules []alertRule, job, deployment, namespace string) {
	t.Helper()
	jobWatched := false
	for _, r := range rules {
		q, err := parsePromQL(r.Expr)
		if err != nil {
			t.Errorf("alert %s: %v", r.Alert, err)
			continue
		}
		for _, s := range q.selectors {
			for _, m := range s.matchers {
				var want string
				switch {
				case m.label == "job":
					want, jobWatched = job, true
				case m.label == "deployment" && strings.HasPrefix(s.metric, "kube_deployment_"):
					want = deployment
				case m.label == "namespace" && namespace != "":
					want = namespace
				default:
					continue
				}
				if m.op != "=" || m.value != want {
					t.Errorf("alert %s: %s{%s%s%q} never matches: the scrape job and Deployment give %s=%q", r.Alert, s.metric, m.label, m.op, m.value, m.label, want)
				}
			}
		}
	}
	if !jobWatched {
		t.Error(`no alert selects the gates' scrape job (up{job="..."})`)
	}
}

// TestServiceMonitorGivesTheJobTheAlertsWatch follows the job label end to
// end: the ServiceMonitor selects the gate's Service and scrapes its admin
// port, the Prometheus Operator names the job after the Service's jobLabel
// label (or the Service's name), and that is the job the alerts select.
func TestServiceMonitorGivesTheJobTheAlertsWatch(t *testing.T) {
	eachManifestSet(t, func(t *testing.T, ms *manifests) {
		monitors := ms.each("ServiceMonitor")
		if ms.rendered() && len(monitors) == 0 {
			t.Skip("this rendering has no ServiceMonitor (monitoring.serviceMonitor.enabled=false)")
		}
		g := loadGate(t, ms)
		var svc serviceSpec
		svcObj := ms.one(t, "Service", &svc)
		admin, _ := g.container.port("admin")
		if len(monitors) != 1 {
			t.Fatalf("%d ServiceMonitors, want 1", len(monitors))
		}
		var sm serviceMonitorSpec
		decodeSpec(t, monitors[0], &sm)

		if !sm.Selector.selects(svcObj.Metadata.Labels) || len(sm.Selector.MatchLabels) == 0 {
			t.Errorf("the ServiceMonitor's selector %v does not select the Service's labels %v", sm.Selector.MatchLabels, svcObj.Metadata.Labels)
		}
		if ns := svcObj.Metadata.Namespace; !sm.NamespaceSelector.Any && !slices.Contains(sm.NamespaceSelector.MatchNames, ns) &&
			(len(sm.NamespaceSelector.MatchNames) > 0 || monitors[0].Metadata.Namespace != ns) {
			t.Errorf("the ServiceMonitor does not look in the Service's namespace %q", ns)
		}
		scrapesAdmin := false
		for _, e := range sm.Endpoints {
			for _, p := range svc.Ports {
				if target, _ := g.container.port(p.TargetPort); p.Name == e.Port && target == admin && (e.Path == "" || e.Path == "/metrics") {
					scrapesAdmin = true
				}
			}
		}
		if !scrapesAdmin || len(sm.Endpoints) != 1 {
			t.Errorf("the ServiceMonitor's endpoints %+v: want the Service port of the admin port %d, path /metrics", sm.Endpoints, admin)
		}

		job := svcObj.Metadata.Name
		if sm.JobLabel != "" {
			job = svcObj.Metadata.Labels[sm.JobLabel]
			if job == "" {
				t.Fatalf("the ServiceMonitor's jobLabel %q is not a label of the Service", sm.JobLabel)
			}
		}
		rules := alertsOf(t, ms)
		if len(rules) == 0 {
			t.Skip("this rendering has no PrometheusRule (monitoring.prometheusRule.enabled=false)")
		}
		namespace := ""
		if ms.rendered() {
			namespace = ms.namespace
		}
		checkAlertTargets(t, rules, job, g.obj.Metadata.Name, namespace)
	})
}

// TestScrapeConfigGivesTheJobTheAlertsWatch is the same for Prometheus
// without the Operator: scrape.yaml's job keeps exactly the admin port of
// the gate's Service, in its namespace, under the job the alerts select.
func TestScrapeConfigGivesTheJobTheAlertsWatch(t *testing.T) {
	ms := loadManifests(t)
	g := loadGate(t, ms)
	var svc serviceSpec
	svcObj := ms.one(t, "Service", &svc)
	admin, _ := g.container.port("admin")
	adminPort := ""
	for _, p := range svc.Ports {
		if target, _ := g.container.port(p.TargetPort); target == admin {
			adminPort = p.Name
		}
	}

	data, err := os.ReadFile(scrapeFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		ScrapeConfigs []struct {
			JobName             string `yaml:"job_name"`
			MetricsPath         string `yaml:"metrics_path"`
			KubernetesSDConfigs []struct {
				Role       string `yaml:"role"`
				Namespaces struct {
					Names []string `yaml:"names"`
				} `yaml:"namespaces"`
			} `yaml:"kubernetes_sd_configs"`
			RelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Regex        string   `yaml:"regex"`
				Action       string   `yaml:"action"`
				TargetLabel  string   `yaml:"target_label"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", scrapeFile, err)
	}
	if len(file.ScrapeConfigs) != 1 {
		t.Fatalf("%s: %d scrape configs, want 1", scrapeFile, len(file.ScrapeConfigs))
	}
	sc := file.ScrapeConfigs[0]
	if len(sc.KubernetesSDConfigs) != 1 || sc.KubernetesSDConfigs[0].Role != "endpoints" ||
		!slices.Equal(sc.KubernetesSDConfigs[0].Namespaces.Names, []string{svcObj.Metadata.Namespace}) {
		t.Errorf("%s: want endpoints discovery in the namespace %q only, have %+v", scrapeFile, svcObj.Metadata.Namespace, sc.KubernetesSDConfigs)
	}
	if sc.MetricsPath != "/metrics" {
		t.Errorf("%s: metrics_path %q, want /metrics", scrapeFile, sc.MetricsPath)
	}
	// The keep rule, as Prometheus applies it: the source labels joined by
	// ";" against the anchored regex.
	keeps := 0
	for _, rc := range sc.RelabelConfigs {
		if rc.Action != "keep" {
			continue
		}
		keeps++
		if !slices.Equal(rc.SourceLabels, []string{"__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"}) {
			t.Errorf("%s: the keep rule reads %v, want the service and port names", scrapeFile, rc.SourceLabels)
			continue
		}
		re, err := regexp.Compile("^(?:" + rc.Regex + ")$")
		if err != nil {
			t.Fatalf("%s: regex %q: %v", scrapeFile, rc.Regex, err)
		}
		for _, tc := range []struct {
			service, port string
			keep          bool
		}{
			{svcObj.Metadata.Name, adminPort, true},
			{svcObj.Metadata.Name, "http", false},
			{"metabase", adminPort, false},
		} {
			if got := re.MatchString(tc.service + ";" + tc.port); got != tc.keep {
				t.Errorf("%s: the keep rule keeps Service %s port %s: %v, want %v", scrapeFile, tc.service, tc.port, got, tc.keep)
			}
		}
	}
	if keeps != 1 {
		t.Errorf("%s: %d keep rules, want 1 keeping the gate's admin endpoints", scrapeFile, keeps)
	}
	checkAlertTargets(t, alertsOf(t, ms), sc.JobName, g.obj.Metadata.Name, "")
}

// ---- metrics: what the code registers ----

// series describes the series names the metrics package exposes: each name
// (histograms as _bucket, _sum and _count) with its label names, nil when
// registered but not exercised below (the names are then known, the labels
// not).
type series map[string]map[string]bool

// capturingRegisterer records the collectors New registers.
type capturingRegisterer struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *capturingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *capturingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// registeredSeries builds the metrics on a fresh registry, records one
// event of each kind and gathers what it exposes.
func registeredSeries(t *testing.T) series {
	t.Helper()
	reg := prometheus.NewRegistry()
	capture := &capturingRegisterer{Registerer: reg}
	m := metrics.New(capture, metrics.BuildInfo{Version: "v1.0.0", Revision: "abc", GoVersion: "go1.26"})
	m.ObserveRequest("embed_api", "GET", 200, time.Millisecond)
	m.InFlightInc()
	m.ObserveUpstream("embed_api", 202, time.Millisecond)
	m.UpstreamError(metrics.UpstreamDial)
	m.AuthAttempt("jwt", "ok")
	m.Decision(false, "tenant-mismatch")
	m.TenantMismatch(metrics.MismatchHandle)
	m.TokenMinted(metrics.TokenHandle)
	m.Cache("session", true)
	m.ConfigLoaded(false, true, time.Now())
	m.UnsafeResources(0)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := series{}
	for _, f := range families {
		labels := map[string]bool{}
		for _, metric := range f.GetMetric() {
			for _, lp := range metric.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		name := f.GetName()
		switch f.GetType().String() {
		case "HISTOGRAM":
			s[name+"_bucket"] = withLabel(labels, "le")
			s[name+"_sum"], s[name+"_count"] = labels, labels
		case "SUMMARY":
			s[name] = withLabel(labels, "quantile")
			s[name+"_sum"], s[name+"_count"] = labels, labels
		default:
			s[name] = labels
		}
	}
	// Collectors registered but not exercised above: names only.
	for _, c := range capture.collectors {
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			match := fqNameRE.FindStringSubmatch(d.String())
			if match == nil {
				continue
			}
			name := match[1]
			if _, ok := s[name]; ok {
				continue
			}
			if _, ok := s[name+"_count"]; ok {
				continue
			}
			s[name] = nil
			if _, isHistogram := c.(*prometheus.HistogramVec); isHistogram {
				s[name+"_bucket"], s[name+"_sum"], s[name+"_count"] = nil, nil, nil
			}
		}
	}
	if len(s) < 10 {
		t.Fatalf("gathered only %d series names: %v", len(s), slices.Sorted(maps.Keys(s)))
	}
	return s
}

func withLabel(labels map[string]bool, l string) map[string]bool {
	out := map[string]bool{l: true}
	for k := range labels {
		out[k] = true
	}
	return out
}

// targetLabels are added by Prometheus (job, instance) or by the usual
// Kubernetes relabelling, not by the gate.
var targetLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true}

// externalSeries are the series of other exporters the rules may use, with
// their labels.
var externalSeries = series{
	"up": {},
	// kube-state-metrics
	"kube_deployment_status_replicas_unavailable": {"deployment": true},
}

// policyReasons returns the reason codes of package policy, read from its
// source (policy imports configs, so this test cannot import it).
func policyReasons(t *testing.T) map[string]bool {
	t.Helper()
	reasons := stringConsts(t, "../policy/*.go", func(name string, typ ast.Expr) bool {
		id, ok := typ.(*ast.Ident)
		return ok && id.Name == "Reason"
	})
	if !reasons["tenant-mismatch"] {
		t.Fatalf("found no policy reasons in ../policy: %v", reasons)
	}
	return reasons
}

// routeNames returns the route names of package proxy, the values of the
// route label, read from its source (its constants named route...).
func routeNames(t *testing.T) map[string]bool {
	t.Helper()
	routes := stringConsts(t, "../proxy/*.go", func(name string, _ ast.Expr) bool {
		return strings.HasPrefix(name, "route") && len(name) > len("route")
	})
	if !routes["embed_api"] || !routes["embed_page"] {
		t.Fatalf("found no route names in ../proxy: %v", routes)
	}
	return routes
}

// stringConsts returns the string literals given to the names that keep
// accepts (by name and declared type) in the non-test Go files of glob.
func stringConsts(t *testing.T, glob string, keep func(name string, typ ast.Expr) bool) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, v := range spec.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || i >= len(spec.Names) || !keep(spec.Names[i].Name, spec.Type) {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				out[s] = true
			}
			return true
		})
	}
	return out
}

// knownLabelValues are the closed sets a rule may match on; a value outside
// them matches nothing, silently.
func knownLabelValues(t *testing.T) map[string]map[string]bool {
	return map[string]map[string]bool{
		"reason":   policyReasons(t),
		"decision": {"allow": true, "deny": true},
		"route":    routeNames(t),
	}
}

// checkQuery checks a PromQL expression against the registered series:
// every metric exists, every label it matches or groups by is one the
// metric has, and every value of a closed set is in that set.
func checkQuery(t *testing.T, where, expr string, reg series, values map[string]map[string]bool) (metricNames []string) {
	t.Helper()
	q, err := parsePromQL(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return nil
	}
	if len(q.selectors) == 0 {
		t.Errorf("%s: names no metric: %s", where, expr)
	}
	available := maps.Clone(targetLabels)
	labelsKnown := true
	for _, s := range q.selectors {
		metricNames = append(metricNames, s.metric)
		labels, ok := reg[s.metric]
		if !ok {
			labels, ok = externalSeries[s.metric]
		}
		if !ok {
			t.Errorf("%s: %s is not a metric tenantgate registers (nor an allowed external one)", where, s.metric)
			continue
		}
		for l := range labels {
			available[l] = true
		}
		for _, m := range s.matchers {
			if labels != nil && !labels[m.label] && !targetLabels[m.label] {
				t.Errorf("%s: %s has no label %q (it has %v)", where, s.metric, m.label, slices.Sorted(maps.Keys(labels)))
			}
			if known, ok := values[m.label]; ok {
				alternatives := []string{m.value}
				if strings.HasSuffix(m.op, "~") {
					alternatives = strings.Split(m.value, "|")
				}
				for _, v := range alternatives {
					if !known[v] {
						t.Errorf("%s: %s=%q is not one of %v", where, m.label, v, slices.Sorted(maps.Keys(known)))
					}
				}
			}
		}
		labelsKnown = labelsKnown && labels != nil
	}
	for _, l := range q.grouping {
		if labelsKnown && !available[l] {
			t.Errorf("%s: groups by %q, which none of %v has", where, l, metricNames)
		}
	}
	return metricNames
}

// ---- a small PromQL reader: enough to name metrics and labels ----

type promQuery struct {
	selectors []promSelector
	grouping  []string // labels of by, without, on, ignoring, group_left, group_right
}

type promSelector struct {
	metric   string
	matchers []promMatcher
}

type promMatcher struct{ label, op, value string }

var (
	promGrouping  = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	promOperators = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true}
	promFunctions = map[string]bool{
		"sum": true, "avg": true, "min": true, "max": true, "count": true, "topk": true, "bottomk": true,
		"quantile": true, "stddev": true, "count_values": true, "group": true,
		"rate": true, "irate": true, "increase": true, "delta": true, "idelta": true, "deriv": true, "changes": true, "resets": true,
		"histogram_quantile": true, "absent": true, "absent_over_time": true, "present_over_time": true,
		"sum_over_time": true, "avg_over_time": true, "max_over_time": true, "min_over_time": true, "count_over_time": true,
		"abs": true, "ceil": true, "floor": true, "round": true, "clamp": true, "clamp_min": true, "clamp_max": true,
		"vector": true, "scalar": true, "time": true, "sort": true, "sort_desc": true, "label_replace": true, "label_join": true,
		"predict_linear": true,
	}
	promMatcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*$`)
)

// parsePromQL reads the metric selectors and grouping labels of expr. It
// knows PromQL's lexical structure, not its grammar: strings, label
// matchers, ranges, numbers, Grafana's $variables, functions and keywords.
func parsePromQL(expr string) (promQuery, error) {
	var q promQuery
	last := -1 // the selector a following {…} belongs to
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return q, err
			}
			i = end
		case c == '{':
			end, err := closing(expr, i, '}')
			if err != nil {
				return q, err
			}
			ms, err := parseMatchers(expr[i+1 : end])
			if err != nil {
				return q, err
			}
			if last < 0 {
				q.selectors = append(q.selectors, promSelector{})
				last = len(q.selectors) - 1
			}
			q.selectors[last].matchers = append(q.selectors[last].matchers, ms...)
			i = end + 1
		case c == '[':
			end, err := closing(expr, i, ']')
			if err != nil {
				return q, err
			}
			i = end + 1
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				end, err := closing(expr, i, '}')
				if err != nil {
					return q, err
				}
				i = end + 1
			}
			for i < len(expr) && isIdent(expr[i], true) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i], true) || expr[i] == '.') {
				i++
			}
		case isIdent(c, false):
			start := i
			for i < len(expr) && isIdent(expr[i], true) {
				i++
			}
			word := expr[start:i]
			next := i
			for next < len(expr) && strings.ContainsRune(" \t\n\r", rune(expr[next])) {
				next++
			}
			paren := next < len(expr) && expr[next] == '('
			switch {
			case promGrouping[word] && paren:
				end, err := closing(expr, next, ')')
				if err != nil {
					return q, err
				}
				for _, l := range strings.Split(expr[next+1:end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						q.grouping = append(q.grouping, l)
					}
				}
				i = end + 1
			case promGrouping[word] || promOperators[word]:
			case promFunctions[word]: // also an aggregation before its "by (…)"
			case paren:
				return q, fmt.Errorf("unknown function %s", word)
			default:
				q.selectors = append(q.selectors, promSelector{metric: word})
				last = len(q.selectors) - 1
				continue
			}
		default:
			i++
		}
		last = -1
	}
	for _, s := range q.selectors {
		if s.metric == "" {
			return q, errors.New("a selector without a metric name")
		}
	}
	return q, nil
}

func isIdent(c byte, notFirst bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && c >= '0' && c <= '9'
}

// skipString returns the index just past the string literal at s[i].
func skipString(s string, i int) (int, error) {
	quote := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && quote != '`':
			j++
		case s[j] == quote:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d", i)
}

// closing returns the index of the bracket that closes the one at s[i],
// skipping strings.
func closing(s string, i int, want byte) (int, error) {
	open := s[i]
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case open:
			depth++
		case want:
			if depth--; depth == 0 {
				return j, nil
			}
		}
	}
	return 0, fmt.Errorf("%c at %d is not closed", open, i)
}

func parseMatchers(s string) ([]promMatcher, error) {
	var out []promMatcher
	start := 0
	for j := 0; j <= len(s); j++ {
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			end, err := skipString(s, j)
			if err != nil {
				return nil, err
			}
			j = end - 1
			continue
		}
		if j < len(s) && s[j] != ',' {
			continue
		}
		item := s[start:j]
		start = j + 1
		if strings.TrimSpace(item) == "" {
			continue
		}
		m := promMatcherRE.FindStringSubmatch(item)
		if m == nil {
			return nil, fmt.Errorf("label matcher %q", strings.TrimSpace(item))
		}
		v := m[3]
		if v[0] == '\'' {
			v = `"` + strings.ReplaceAll(v[1:len(v)-1], `"`, `\"`) + `"`
		}
		value, err := strconv.Unquote(v)
		if err != nil {
			return nil, fmt.Errorf("label matcher %q: %w", strings.TrimSpace(item), err)
		}
		out = append(out, promMatcher{m[1], m[2], value})
	}
	return out, nil
}

func TestParsePromQL(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		metrics    []string
		grouping   []string
		matchers   int
		wantErr    bool
	}{
		{"plain", `up`, []string{"up"}, nil, 0, false},
		{"rate by", `sum by (route, code) (rate(a_total{job=~"$job", code=~"5.."}[$__rate_interval]))`, []string{"a_total"}, []string{"route", "code"}, 2, false},
		{"by after", `sum(rate(a_total[5m])) by (kind) > 0.5`, []string{"a_total"}, []string{"kind"}, 0, false},
		{"two metrics", `a / on (x) group_left b{y="1,2}"}`, []string{"a", "b"}, []string{"x"}, 1, false},
		{"strings hide names", `label_replace(a, "dst", "$1", "src", "(not_a_metric)")`, []string{"a"}, nil, 0, false},
		{"offset", `a offset 1d > bool 3`, []string{"a"}, nil, 0, false},
		{"unknown function", `ratee(a[5m])`, nil, nil, 0, true},
		{"bad matcher", `a{b}`, nil, nil, 0, true},
		{"unclosed", `a{b="c"`, nil, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parsePromQL(tc.expr)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var names []string
			matchers := 0
			for _, s := range q.selectors {
				names = append(names, s.metric)
				matchers += len(s.matchers)
			}
			if !slices.Equal(names, tc.metrics) || !slices.Equal(q.grouping, tc.grouping) || matchers != tc.matchers {
				t.Errorf("got metrics %v, grouping %v, %d matchers; want %v, %v, %d", names, q.grouping, matchers, tc.metrics, tc.grouping, tc.matchers)
			}
		})
	}
}

// ---- the Grafana dashboard ----

type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // of a collapsed row
}

var grafanaVarRE = regexp.MustCompile(`\$(?:\{([a-zA-Z_][a-zA-Z0-9_]*)[^}]*\}|([a-zA-Z_][a-zA-Z0-9_]*))`)

func TestGrafanaDashboardUsesRegisteredMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID           string         `json:"uid"`
		Title         string         `json:"title"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Definition string          `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want all set", dash.UID, dash.Title, dash.SchemaVersion)
	}
	reg := registeredSeries(t)
	values := knownLabelValues(t)

	vars := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		// label_values(<query>, <label>)
		m := regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`).FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: definition %q is not label_values(query, label)", v.Name, v.Definition)
			continue
		}
		for _, name := range checkQuery(t, "variable "+v.Name, m[1], reg, values) {
			if labels := reg[name]; labels != nil && !labels[m[2]] && !targetLabels[m[2]] {
				t.Errorf("variable %s: %s has no label %q", v.Name, name, m[2])
			}
		}
		if !strings.Contains(string(v.Query), v.Definition) {
			t.Errorf("variable %s: query %s differs from its definition %q", v.Name, v.Query, v.Definition)
		}
	}

	used := map[string]bool{}
	ids := map[int]bool{}
	var walk func([]grafanaPanel)
	walk = func(panels []grafanaPanel) {
		for _, p := range panels {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("%s: id missing or repeated", where)
			}
			ids[p.ID] = true
			if p.Title == "" || p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: want a title and a gridPos within 24 columns", where)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, tg := range p.Targets {
				for _, m := range grafanaVarRE.FindAllStringSubmatch(tg.Expr, -1) {
					if name := m[1] + m[2]; !vars[name] {
						t.Errorf("%s: $%s is not a variable of the dashboard", where, name)
					}
				}
				for _, name := range checkQuery(t, where+" "+tg.RefID, tg.Expr, reg, values) {
					used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")] = true
				}
			}
		}
	}
	walk(dash.Panels)

	// What operators look at first must be on it (issue 5).
	for _, want := range []string{
		"tenantgate_http_requests_total", "tenantgate_http_request_duration_seconds", "tenantgate_http_requests_in_flight",
		"tenantgate_policy_decisions_total", "tenantgate_tenant_mismatches_total", "tenantgate_upstream_errors_total",
		"tenantgate_upstream_request_duration_seconds", "tenantgate_auth_attempts_total", "tenantgate_tokens_minted_total",
		"tenantgate_build_info",
	} {
		if !used[want] {
			t.Errorf("the dashboard has no panel over %s", want)
		}
	}
}

// ---- the Prometheus alerting rules ----

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleGroup is a group of Prometheus rules, as in a rule file or a
// PrometheusRule's spec.groups.
type ruleGroup struct {
	Name     string      `yaml:"name"`
	Interval string      `yaml:"interval"`
	Rules    []alertRule `yaml:"rules"`
}

// loadAlertRules reads a Prometheus rule file, refusing unknown keys as
// Prometheus does.
func loadAlertRules(t *testing.T, path string) []ruleGroup {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []ruleGroup `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(file.Groups) == 0 {
		t.Fatalf("%s has no rule group", path)
	}
	return file.Groups
}

func TestAlertRulesUseRegisteredMetrics(t *testing.T) {
	checkAlertRules(t, loadAlertRules(t, alertRulesFile))
}

// runbookBase is where every alert's runbook_url points: a section of
// README, by its GitHub anchor.
const runbookBase = "https://github.com/tenantgate/tenantgate/blob/main/README.md#"

// checkAlertRules checks rule groups against the code: every metric, label
// and closed-set value exists, every alert has a severity, a summary, a
// description and a runbook in README, and the alerts issues 5 and 14 ask
// for are there.
func checkAlertRules(t *testing.T, groups []ruleGroup) {
	t.Helper()
	reg := registeredSeries(t)
	values := knownLabelValues(t)
	anchors := readmeAnchors(t)

	names := map[string]bool{}
	var all []alertRule
	for _, g := range groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: want a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || names[r.Alert] {
				t.Errorf("%s: name missing or repeated", where)
			}
			names[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: want a summary and a description", where)
			}
			if u := r.Annotations["runbook_url"]; !strings.HasPrefix(u, runbookBase) || !anchors[strings.TrimPrefix(u, runbookBase)] {
				t.Errorf("%s: runbook_url %q, want %s followed by the anchor of a README heading", where, u, runbookBase)
			}
			checkQuery(t, where, r.Expr, reg, values)
			all = append(all, r)
		}
	}

	// The alerts issues 5 and 14 ask for.
	for _, want := range []struct{ what, expr string }{
		{"any tenant mismatch", "increase(tenantgate_tenant_mismatches_total[5m]) > 0"},
		{"a denial-rate spike", `tenantgate_policy_decisions_total{decision="deny"`},
		{"the upstream error rate", "tenantgate_upstream_errors_total"},
		{"no gate reporting", "absent(tenantgate_build_info)"},
		{"a gate down", "up{"},
		{"gates not ready", "kube_deployment_status_replicas_unavailable"},
		{"Metabase refusing the gate's tokens", `increase(tenantgate_upstream_rejected_tokens_total[5m])`},
		{"a share of 429s", `tenantgate_http_requests_total{code="429"}`},
		{"the audit guard withholding unsafe resources", "tenantgate_unsafe_resources"},
	} {
		found := false
		for _, r := range all {
			found = found || strings.Contains(r.Expr, want.expr)
		}
		if !found {
			t.Errorf("no alert for %s (an expr containing %q)", want.what, want.expr)
		}
	}
}

// readmeAnchors returns the GitHub anchors of README's headings.
func readmeAnchors(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := githubAnchor(text)
		for n := 1; anchors[a]; n++ {
			a = githubAnchor(text) + "-" + strconv.Itoa(n)
		}
		anchors[a] = true
	}
	return anchors
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces as
// hyphens, every other character but letters, digits, - and _ dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubAnchor(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Deploying on Kubernetes", "deploying-on-kubernetes"},
		{"Metrics (admin listener, `/metrics`)", "metrics-admin-listener-metrics"},
		{"Quick start (two commands)", "quick-start-two-commands"},
		{"How it works: one request, top to bottom", "how-it-works-one-request-top-to-bottom"},
		{"TenantgateUpstream5xx", "tenantgateupstream5xx"},
	} {
		if got := githubAnchor(tc.heading); got != tc.want {
			t.Errorf("githubAnchor(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

// ---- small helpers ----

func isTrue(b *bool) bool { return b != nil && *b }

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
