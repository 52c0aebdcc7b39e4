package main

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden* from the current output")

const auditTestKey = "mb_Q0xJVGVzdEtleTAxMjM0NTY3ODk="

// auditPolicy lists dashboards 1 to 4 and question 1 of the stand-in.
const auditPolicy = `policy:
  resources:
    - dashboard: 1
    - dashboard: 2
    - dashboard: 3
    - dashboard: 4
    - question: 1
`

// onlyClean makes the stand-in publish only the clean dashboard and
// question, with no public link: a Metabase with nothing to report.
func onlyClean(w http.ResponseWriter, r *http.Request) bool {
	body, ok := map[string]string{
		"/api/dashboard/embeddable": `[{"id":1,"name":"Orders overview"}]`,
		"/api/card/embeddable":      `[{"id":1,"name":"Orders","card_schema":20}]`,
		"/api/dashboard/public":     `[]`,
		"/api/card/public":          `[]`,
	}[r.URL.Path]
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(body))
	return true
}

func TestAuditCommand(t *testing.T) {
	policyFile := filepath.Join(t.TempDir(), "tenantgate.yaml")
	if err := os.WriteFile(policyFile, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string // on top of the site URL and API key
		override func(http.ResponseWriter, *http.Request) bool
		siteURL  string // "" for the stand-in
		wantCode int
		wantOut  []string
		wantErr  []string
		golden   string
	}{
		{"clean", nil, nil, onlyClean, "", 0, []string{"No findings", "dashboard 1 (Orders overview)  yes        no         safe"}, nil, ""},
		{"clean, json", []string{"--format", "json"}, nil, onlyClean, "", 0, []string{`"findings": []`, `"critical": 0`}, nil, ""},
		{"findings, table", nil, nil, nil, "", 1, []string{"CRITICAL  dashcard-not-wired", "dashboard 2 (Leaky overview)", "Fix:  In Metabase, edit dashboard 2"}, nil, ""},
		{"findings, json, policy from --config", []string{"--config", policyFile, "--format", "json"}, nil, nil, "", 1, nil, nil, "testdata/audit.golden.json"},
		{"policy from TENANTGATE_CONFIG", nil, map[string]string{"TENANTGATE_CONFIG": policyFile}, nil, "", 1, []string{"policy-resource-not-published"}, nil, ""},
		{"no API key", nil, map[string]string{"METABASE_API_KEY": ""}, nil, "", 2, nil, []string{"METABASE_API_KEY (metabase.api_key) is required to audit"}, ""},
		{"wrong API key", nil, map[string]string{"METABASE_API_KEY": "mb_wrong"}, nil, "", 2, nil, []string{"answered 401", "Administrators group"}, ""},
		{"unreachable", nil, nil, nil, closed.URL, 2, nil, []string{"could not audit", "metabase unreachable"}, ""},
		{"admin API failing", nil, nil, func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}, "", 2, nil, []string{"answered 503"}, ""},
		{"bad format", []string{"--format", "yaml"}, nil, nil, "", 2, nil, []string{"use table or json"}, ""},
		{"stray argument", []string{"now"}, nil, nil, "", 2, nil, []string{"unexpected argument"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mb := metabasetest.New(metabasetest.Options{SecretKey: strings.Repeat("ab", 32), APIKey: auditTestKey})
			mb.SetOverride(tt.override)
			srv := httptest.NewServer(mb)
			defer srv.Close()
			env := map[string]string{"METABASE_SITE_URL": srv.URL, "METABASE_API_KEY": auditTestKey}
			if tt.siteURL != "" {
				env["METABASE_SITE_URL"] = tt.siteURL
			}
			for k, v := range tt.env {
				env[k] = v
			}
			var out, errb bytes.Buffer
			code := runAudit(tt.args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if strings.Contains(out.String()+errb.String(), auditTestKey) {
				t.Error("the output quotes the API key")
			}
			if tt.golden == "" {
				return
			}
			if *update {
				if err := os.WriteFile(tt.golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("JSON differs from %s (go test ./cmd/tenantgate -run TestAuditCommand -update, then review):\n%s", tt.golden, out.String())
			}
		})
	}
}

// TestAuditDispatch runs the command through run, as the binary does.
func TestAuditDispatch(t *testing.T) {
	t.Setenv("TENANTGATE_CONFIG", "")
	t.Setenv("METABASE_SITE_URL", "")
	t.Setenv("METABASE_API_KEY", "")
	var out, errb bytes.Buffer
	if code := run([]string{"audit"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "METABASE_SITE_URL (metabase.site_url) is required") {
		t.Errorf("run audit = %d, stderr %q; want 2 and the missing settings", code, errb.String())
	}
}

// TestAuditCommandSSO: with SSO on, the audit reads the permission graph
// for All Users even when no group mapping is configured.
func TestAuditCommandSSO(t *testing.T) {
	const golden = "testdata/audit_sso.golden.json"
	grantOrders := func(mb *metabasetest.Server) error {
		return mb.SetViewData(metabasetest.GroupAllUsers, metabasetest.TableOrders, metabasetest.ViewUnrestricted)
	}
	graphFails := func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/permissions/graph" {
			return onlyClean(w, r)
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		change   func(*metabasetest.Server) error
		override func(http.ResponseWriter, *http.Request) bool
		wantCode int
		wantOut  []string
		wantErr  []string
		golden   string
	}{
		{"no groups, All Users blocked", nil, nil, nil, onlyClean, 0,
			[]string{"No findings", `SSO checked: view-data of every table for "All Users" (1).`}, nil, ""},
		{"no groups, All Users may view orders", nil, nil, grantOrders, onlyClean, 1, []string{
			"CRITICAL  table-unrestricted  table 10 (public.orders)  database 1, group 1",
			`may view table public.orders of database 1 (Orders warehouse) unrestricted`,
			`Fix:  In Metabase, Admin > Permissions > Data: set View data for "All Users" (1) on database 1 (Orders warehouse) to Blocked`,
		}, nil, ""},
		{"no groups, json", []string{"--format", "json"}, nil, grantOrders, onlyClean, 1, nil, nil, golden},
		{"a mapped group that may view customers", nil, map[string]string{"TENANTGATE_SSO_GROUP_MAPPINGS": "customer=Embedded customers"}, nil, onlyClean, 1,
			[]string{"CRITICAL  table-unrestricted  table 11 (public.customers)  database 1, group 3", `"Embedded customers" (3)`}, nil, ""},
		{"the graph failing", nil, nil, nil, graphFails, 2, nil, []string{"could not audit", "/api/permissions/graph answered 500"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mb := metabasetest.New(metabasetest.Options{SecretKey: strings.Repeat("ab", 32), APIKey: auditTestKey, Sandboxing: true})
			mb.SetOverride(tt.override)
			if tt.change != nil {
				if err := tt.change(mb); err != nil {
					t.Fatal(err)
				}
			}
			srv := httptest.NewServer(mb)
			defer srv.Close()
			env := map[string]string{"METABASE_SITE_URL": srv.URL, "METABASE_API_KEY": auditTestKey,
				"MB_JWT_SHARED_SECRET": strings.Repeat("cd", 32)}
			for k, v := range tt.env {
				env[k] = v
			}
			var out, errb bytes.Buffer
			code := runAudit(tt.args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if tt.golden == "" {
				return
			}
			if *update {
				if err := os.WriteFile(tt.golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("JSON differs from %s (go test ./cmd/tenantgate -run TestAuditCommandSSO -update, then review):\n%s", tt.golden, out.String())
			}
		})
	}
}
