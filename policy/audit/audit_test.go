package audit_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/policy/audit"
	mb "github.com/tenantgate/tenantgate/proxy/metabasetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const (
	testAPIKey = "mb_QXVkaXRUZXN0S2V5MDEyMzQ1Njc4OQ=="
	mbSecret   = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func standIn(t *testing.T, opts mb.Options) (*mb.Server, *audit.Client) {
	t.Helper()
	opts.SecretKey = mbSecret
	if opts.APIKey == "" {
		opts.APIKey = testAPIKey
	}
	s := mb.New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c, err := audit.NewClient(ts.URL, testAPIKey, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// sampleSSO puts SSO users in the embedded group ("customers"), wrongly in
// Administrators ("staff"), and maps a group that does not exist.
func sampleSSO() *audit.SSO {
	return &audit.SSO{TenantAttribute: "organization_id", Groups: []string{"customers", "staff"},
		GroupMappings: map[string][]int{"customers": {mb.GroupEmbedded}, "staff": {mb.GroupAdministrators}, "ghosts": {42}}}
}

// samplePolicy lists dashboards 1 to 4 and question 1.
func samplePolicy() []audit.Ref {
	return []audit.Ref{{Kind: "dashboard", ID: mb.DashboardOrders}, {Kind: "dashboard", ID: mb.DashboardLeaky},
		{Kind: "dashboard", ID: mb.DashboardEditableTenant}, {Kind: "dashboard", ID: mb.DashboardUnpublished},
		{Kind: "question", ID: mb.QuestionOrders}}
}

// summary is a finding in short: "code kind id [dashcard N] [group N]".
func summary(f audit.Finding) string {
	s := fmt.Sprintf("%s %s %d", f.Code, f.Resource.Kind, f.Resource.ID)
	if f.Dashcard != 0 {
		s += fmt.Sprintf(" dashcard %d", f.Dashcard)
	}
	if f.Group != 0 {
		s += fmt.Sprintf(" group %d", f.Group)
	}
	return s
}

func summaries(r *audit.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, summary(f))
	}
	return out
}

// The planted problems of the stand-in's sample content, in report order.
var (
	resourceFindings = []string{
		"dashcard-not-wired dashboard 2 dashcard 24",
		"tenant-param-not-locked dashboard 3",
		"tenant-param-missing dashboard 6",
		"enabled-param-filters-tenant dashboard 6 dashcard 61",
		"public-link question 2",
		"tenant-param-not-locked question 5",
	}
	driftFindings = []string{
		"policy-resource-not-published dashboard 4",
		"published-resource-not-in-policy dashboard 6",
		"published-resource-not-in-policy question 5",
	}
	ssoFindings = []string{
		"table-unrestricted table 11 group 3",
		"admin-group-embedded group 2 group 2",
		"group-mapping-unknown sso 0 group 42",
	}
)

func TestAuditFindsEveryPlantedProblem(t *testing.T) {
	_, client := standIn(t, mb.Options{Sandboxing: true})
	tests := []struct {
		name string
		cfg  audit.Config
		want []string
	}{
		{"no policy, no SSO", audit.Config{TenantParam: "organization_id"}, resourceFindings},
		{"policy", audit.Config{TenantParam: "organization_id", Policy: samplePolicy()}, merge(resourceFindings, driftFindings)},
		{"policy and SSO", audit.Config{TenantParam: "organization_id", Policy: samplePolicy(), SSO: sampleSSO()},
			merge(resourceFindings, driftFindings, ssoFindings)},
		{"another tenant slug finds it nowhere", audit.Config{TenantParam: "tenant"}, []string{
			"tenant-param-missing dashboard 1", "tenant-param-missing dashboard 2", "tenant-param-missing dashboard 3",
			"tenant-param-missing dashboard 6", "public-link question 2", "tenant-param-missing question 1", "tenant-param-missing question 5",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := client.Run(context.Background(), tt.cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := summaries(r)
			want := sortLike(r, tt.want)
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n got %q\nwant %q", got, want)
			}
			for _, f := range r.Findings {
				if f.Problem == "" || f.Leak == "" || f.Fix == "" || f.Severity == "" {
					t.Errorf("%s: want problem, leak, fix and severity, got %+v", summary(f), f)
				}
				if !slices.Contains(audit.Codes, f.Code) {
					t.Errorf("%s: code not in audit.Codes", summary(f))
				}
			}
		})
	}
}

// merge concatenates; sortLike puts want in the report's order.
func merge(lists ...[]string) []string { return slices.Concat(lists...) }

func sortLike(r *audit.Report, want []string) []string {
	got := summaries(r)
	out := slices.Clone(want)
	slices.SortStableFunc(out, func(a, b string) int {
		ia, ib := slices.Index(got, a), slices.Index(got, b)
		if ia < 0 || ib < 0 {
			return 0
		}
		return ia - ib
	})
	return out
}

func TestCleanDashboardHasNoFinding(t *testing.T) {
	_, client := standIn(t, mb.Options{Sandboxing: true})
	r, err := client.Run(context.Background(), audit.Config{TenantParam: "organization_id", Policy: samplePolicy(), SSO: sampleSSO()})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []struct {
		kind string
		id   int
	}{{"dashboard", mb.DashboardOrders}, {"question", mb.QuestionOrders}} {
		t.Run(fmt.Sprintf("%s %d", res.kind, res.id), func(t *testing.T) {
			for _, f := range r.Findings {
				if f.Resource.Kind == res.kind && f.Resource.ID == res.id {
					t.Errorf("finding on the clean resource: %s", summary(f))
				}
			}
			a, ok := r.Lookup(res.kind, res.id)
			if !ok || !a.Safe || !a.Published || !a.InPolicy {
				t.Errorf("Lookup = %+v, %v; want audited, safe, published, in policy", a, ok)
			}
		})
	}
	wantUnsafe := []string{"dashboard 2", "dashboard 3", "dashboard 6", "question 5"}
	var gotUnsafe []string
	for _, a := range r.UnsafeResources() {
		gotUnsafe = append(gotUnsafe, fmt.Sprintf("%s %d", a.Kind, a.ID))
	}
	if !slices.Equal(gotUnsafe, wantUnsafe) {
		t.Errorf("unsafe resources = %v, want %v", gotUnsafe, wantUnsafe)
	}
	if a, ok := r.Lookup("dashboard", mb.DashboardUnpublished); !ok || a.Published || !a.Safe {
		t.Errorf("unpublished policy dashboard = %+v, %v; want audited, unpublished, safe", a, ok)
	}
	if _, ok := r.Lookup("dashboard", mb.DashboardArchived); ok {
		t.Error("archived dashboard outside the policy was audited, want skipped")
	}
}

func TestFixingMetabaseClearsTheFinding(t *testing.T) {
	s, client := standIn(t, mb.Options{Sandboxing: true})
	cfg := audit.Config{TenantParam: "organization_id", SSO: &audit.SSO{TenantAttribute: "organization_id", Groups: []string{"Embedded customers"}}}
	tests := []struct {
		name string
		fix  func() error
		gone string
	}{
		{"wire the leaky card", func() error {
			return s.WireDashcard(mb.DashcardLeakyAllOrders, mb.ParamOrganization, "organization_id")
		}, "dashcard-not-wired dashboard 2 dashcard 24"},
		{"lock the editable tenant", func() error {
			return s.SetEmbeddingParam("dashboard", mb.DashboardEditableTenant, "organization_id", "locked")
		}, "tenant-param-not-locked dashboard 3"},
		{"remove the public link", func() error { return s.SetPublicLink("card", mb.QuestionRevenueByStatus, "") }, "public-link question 2"},
		{"sandbox the customers table", func() error {
			return s.AddSandbox(mb.GroupEmbedded, mb.TableCustomers, "organization_id")
		}, "table-unrestricted table 11 group 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := client.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(summaries(before), tt.gone) {
				t.Fatalf("before the fix, findings %q lack %q", summaries(before), tt.gone)
			}
			if err := tt.fix(); err != nil {
				t.Fatal(err)
			}
			after, err := client.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(summaries(after), tt.gone) {
				t.Errorf("after the fix, %q is still reported", tt.gone)
			}
			if got, want := len(after.Findings), len(before.Findings)-1; got != want {
				t.Errorf("findings after = %d, want %d: %q", got, want, summaries(after))
			}
		})
	}
}

func TestReportJSONGolden(t *testing.T) {
	const golden = "testdata/report.golden.json"
	_, client := standIn(t, mb.Options{Sandboxing: true})
	r, err := client.Run(context.Background(), audit.Config{TenantParam: "organization_id", Policy: samplePolicy(), SSO: sampleSSO()})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := r.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("JSON report differs from %s (run go test ./policy/audit -update and review the diff):\n%s", golden, got.String())
	}
	// The same snapshot gives the same bytes.
	r2, _ := client.Run(context.Background(), audit.Config{TenantParam: "organization_id", Policy: samplePolicy(), SSO: sampleSSO()})
	var again bytes.Buffer
	_ = r2.WriteJSON(&again)
	if !bytes.Equal(got.Bytes(), again.Bytes()) {
		t.Error("two runs over the same content gave different JSON")
	}
}

func TestReportTable(t *testing.T) {
	_, client := standIn(t, mb.Options{})
	r, err := client.Run(context.Background(), audit.Config{TenantParam: "organization_id"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"SEVERITY", "CRITICAL  dashcard-not-wired", "dashboard 2 (Leaky overview)", "dashcard 24",
		"Leak: A locked parameter filters only the cards wired to it (metabase#59677)",
		"Fix:  In Metabase, edit dashboard 2", "dashboard 1 (Orders overview)", "UNSAFE",
		"6 critical, 0 warning; SSO checks skipped (not configured).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestClientErrors(t *testing.T) {
	cfg := audit.Config{TenantParam: "organization_id", SSO: sampleSSO()}
	fail := func(status int, body string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/api/card/embeddable") {
				return false
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
			return true
		}
	}
	tests := []struct {
		name     string
		opts     mb.Options
		key      string
		override func(http.ResponseWriter, *http.Request) bool
		closed   bool
		want     error
	}{
		{"wrong key", mb.Options{}, "mb_wrong", nil, false, audit.ErrUnauthorized},
		{"unreachable", mb.Options{}, testAPIKey, nil, true, audit.ErrUnreachable},
		{"server error", mb.Options{}, testAPIKey, fail(500, "boom"), false, audit.ErrUnexpected},
		{"not an administrator", mb.Options{}, testAPIKey, fail(403, "You don't have permissions to do that."), false, audit.ErrForbidden},
		{"not JSON", mb.Options{}, testAPIKey, fail(200, "<html>"), false, audit.ErrUnexpected},
		{"static embedding off", mb.Options{StaticEmbeddingDisabled: true}, testAPIKey, nil, false, audit.ErrUnexpected},
		{"SSO without the sandboxes feature", mb.Options{Sandboxing: false}, testAPIKey, nil, false, audit.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.SecretKey, tt.opts.APIKey = mbSecret, testAPIKey
			s := mb.New(tt.opts)
			s.SetOverride(tt.override)
			ts := httptest.NewServer(s)
			t.Cleanup(ts.Close)
			if tt.closed {
				ts.Close()
			}
			c, err := audit.NewClient(ts.URL, tt.key, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Run(context.Background(), cfg)
			if !errors.Is(err, tt.want) || r != nil {
				t.Fatalf("Run = %v, %v; want nil, %v", r, err, tt.want)
			}
			if strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q quotes the API key", err)
			}
		})
	}

	t.Run("public sharing off means no public links", func(t *testing.T) {
		_, c := standIn(t, mb.Options{PublicSharingDisabled: true})
		r, err := c.Run(context.Background(), audit.Config{TenantParam: "organization_id"})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(summaries(r), "public-link question 2") {
			t.Error("public link reported with public sharing off")
		}
	})

	t.Run("bad client settings", func(t *testing.T) {
		for _, tc := range []struct{ url, key string }{{"metabase:3000", "k"}, {"http://metabase:3000", ""}} {
			if _, err := audit.NewClient(tc.url, tc.key, nil); err == nil {
				t.Errorf("NewClient(%q, %q) = nil error, want one", tc.url, tc.key)
			}
		}
	})
}
