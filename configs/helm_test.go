package configs

// The Helm chart (helm/tenantgate) is checked through its renderings: .ci/run
// lints it and renders it with a pinned Helm (`helm template`, for several
// releases, namespaces and values) into the directory named by
// TENANTGATE_HELM_RENDERED, and every test of deploy_test.go that checks the
// plain manifests checks each rendering the same way (issue 14).

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	chartDir = "helm/tenantgate"
	// chartAlertsFile is the chart's copy of alertRulesFile, which its
	// PrometheusRule renders (a chart reads only files inside it).
	chartAlertsFile = chartDir + "/files/alerts.yaml"
	// renderedEnv names the directory of the chart's renderings: one
	// subdirectory RELEASE_NAMESPACE per `helm template RELEASE -n NAMESPACE`.
	renderedEnv = "TENANTGATE_HELM_RENDERED"
)

// rendering is one `helm template` of the chart.
type rendering struct {
	name, release, namespace, dir string
}

func (r rendering) load(t *testing.T) *manifests {
	t.Helper()
	return loadManifestDirs(t, r.name, r.namespace, r.dir)
}

// helmRenderings returns the renderings .ci/run made. Without them the
// chart goes unchecked, so that is a skip locally and a failure in CI.
func helmRenderings(t *testing.T) []rendering {
	t.Helper()
	dir := os.Getenv(renderedEnv)
	if dir == "" {
		msg := renderedEnv + " is unset, so the Helm chart's renderings are not checked: run .ci/run, or render them as it does"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Run("helm", func(t *testing.T) { t.Skip(msg) })
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", renderedEnv, err)
	}
	var out []rendering
	for _, e := range entries {
		release, namespace, ok := strings.Cut(e.Name(), "_")
		if !e.IsDir() || !ok || release == "" || namespace == "" {
			t.Fatalf("%s/%s: want directories named RELEASE_NAMESPACE", dir, e.Name())
		}
		out = append(out, rendering{e.Name(), release, namespace, filepath.Join(dir, e.Name())})
	}
	if len(out) == 0 {
		t.Fatalf("%s (%s) holds no rendering", renderedEnv, dir)
	}
	return out
}

// The PrometheusRule renders files/alerts.yaml; it must be the rule file
// Prometheus users load, byte for byte.
func TestChartAlertsAreTheAlertRules(t *testing.T) {
	plain, err := os.ReadFile(alertRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := os.ReadFile(chartAlertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, chart) {
		t.Errorf("%s differs from %s: cp configs/%s configs/%s", chartAlertsFile, alertRulesFile, alertRulesFile, chartAlertsFile)
	}
}

// TestRenderedPrometheusRuleIsTheAlertRules checks each rendered
// PrometheusRule: the same checks as alerts.yaml, and the same rules, but
// for the job and Deployment names the chart puts in.
func TestRenderedPrometheusRuleIsTheAlertRules(t *testing.T) {
	renderings := helmRenderings(t)
	want := loadAlertRules(t, alertRulesFile)
	found := false
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			ms := r.load(t)
			rules := ms.each("PrometheusRule")
			if len(rules) == 0 {
				t.Skip("no PrometheusRule (monitoring.prometheusRule.enabled=false)")
			}
			found = true
			g := loadGate(t, ms)
			var svc serviceSpec
			svcObj := ms.one(t, "Service", &svc)
			for _, o := range rules {
				var spec struct {
					Groups []ruleGroup `yaml:"groups"`
				}
				decodeSpec(t, o, &spec)
				checkAlertRules(t, spec.Groups)

				// alerts.yaml's job and Deployment, as this release names them.
				replacer := strings.NewReplacer(
					`job="tenantgate"`, `job="`+svcObj.Metadata.Labels["app.kubernetes.io/name"]+`"`,
					`{deployment="tenantgate"}`, `{namespace="`+r.namespace+`", deployment="`+g.obj.Metadata.Name+`"}`)
				if len(spec.Groups) != len(want) {
					t.Fatalf("%d rule groups, want the %d of %s", len(spec.Groups), len(want), alertRulesFile)
				}
				for i, wg := range want {
					gg := spec.Groups[i]
					if gg.Name != wg.Name || len(gg.Rules) != len(wg.Rules) {
						t.Errorf("group %d is %q with %d rules, want %q with %d", i, gg.Name, len(gg.Rules), wg.Name, len(wg.Rules))
						continue
					}
					for j, wr := range wg.Rules {
						wr.Expr = replacer.Replace(wr.Expr)
						if got := gg.Rules[j]; !equalRules(got, wr) {
							t.Errorf("rule %d of group %s:\n got %+v\nwant %+v", j, wg.Name, got, wr)
						}
					}
				}
			}
		})
	}
	if len(renderings) > 0 && !found {
		t.Error("no rendering has a PrometheusRule: render one with monitoring.prometheusRule.enabled=true")
	}
}

func equalRules(a, b alertRule) bool {
	return a.Alert == b.Alert && a.Expr == b.Expr && a.For == b.For &&
		mapsEqual(a.Labels, b.Labels) && mapsEqual(a.Annotations, b.Annotations)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestChartValuesAreDocumented checks that README's table of the chart's
// values lists every leaf of values.yaml, and nothing else.
func TestChartValuesAreDocumented(t *testing.T) {
	data, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	var leaves []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 || prefix == "metabase.podLabels." || prefix == "ingress.annotations." || prefix == "resources." {
			leaves = append(leaves, strings.TrimSuffix(prefix, "."))
			return
		}
		for k, sub := range m {
			walk(prefix+k+".", sub)
		}
	}
	walk("", values)
	slices.Sort(leaves)

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := helmValuesTable(t, string(readme))
	for _, l := range leaves {
		if !section[l] {
			t.Errorf("README's Helm values table does not list %s", l)
		}
	}
	for l := range section {
		if !slices.Contains(leaves, l) {
			t.Errorf("README's Helm values table lists %s, which values.yaml lacks", l)
		}
	}
}

// helmValuesTable returns the first column of README's table of the
// chart's values: the rows after the heading "With Helm" whose first cell is
// a `value`.
func helmValuesTable(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, after, ok := strings.Cut(readme, "### With Helm")
	if !ok {
		t.Fatal(`README has no "### With Helm" section`)
	}
	if i := strings.Index(after, "\n#"); i >= 0 {
		after = after[:i]
	}
	out := map[string]bool{}
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.TrimPrefix(line, "| `")
		name, _, _ := strings.Cut(cell, "`")
		out[name] = true
	}
	if len(out) == 0 {
		t.Fatal(`README's "With Helm" section has no table of values`)
	}
	return out
}
