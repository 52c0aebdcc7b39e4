package policy

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func engine(t testing.TB, resources ...configs.ResourcePolicy) *Engine {
	t.Helper()
	cfg := &configs.Config{}
	cfg.Tenant.Param = "organization_id"
	cfg.Handles.RenewMax = 12 * time.Hour
	cfg.Limits.MaxTokenBytes = 4096
	cfg.Policy.Resources = resources
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func ident(tenant string, claims map[string]any) *auth.Identity {
	return &auth.Identity{Subject: "u-" + tenant, Tenant: tenant, Claims: claims}
}

var dash42 = auth.Resource{Kind: auth.KindDashboard, ID: 42}

func TestMint(t *testing.T) {
	open := engine(t)
	restricted := engine(t,
		configs.ResourcePolicy{Dashboard: 42, Tenants: []string{"acme"}, LockedParams: map[string]string{"region": "{{ .Claims.region }}"}},
		configs.ResourcePolicy{Dashboard: 43, RequireClaims: map[string][]string{"plan": {"enterprise"}}},
	)
	tests := []struct {
		name   string
		e      *Engine
		id     *auth.Identity
		res    auth.Resource
		reason Reason
		params map[string]any
	}{
		{"open policy allows any resource, tenant locked", open, ident("acme", nil), dash42, ReasonAllowed, map[string]any{"organization_id": "acme"}},
		{"open policy question", open, ident("globex", nil), auth.Resource{Kind: auth.KindQuestion, ID: 1}, ReasonAllowed, map[string]any{"organization_id": "globex"}},
		{"empty tenant refused", open, ident("", nil), dash42, ReasonTenantMissing, nil},
		{"blank tenant refused", open, ident("  ", nil), dash42, ReasonTenantMissing, nil},
		{"restricted: unlisted resource", restricted, ident("acme", nil), auth.Resource{Kind: auth.KindDashboard, ID: 1}, ReasonResourceNotAllowed, nil},
		{"restricted: question with same id as listed dashboard", restricted, ident("acme", map[string]any{"region": "eu"}), auth.Resource{Kind: auth.KindQuestion, ID: 42}, ReasonResourceNotAllowed, nil},
		{"restricted: tenant not listed", restricted, ident("globex", map[string]any{"region": "eu"}), dash42, ReasonResourceNotAllowed, nil},
		{"restricted: extra locked param from claim", restricted, ident("acme", map[string]any{"region": "eu"}), dash42, ReasonAllowed, map[string]any{"organization_id": "acme", "region": "eu"}},
		{"restricted: locked param claim missing", restricted, ident("acme", map[string]any{}), dash42, ReasonClaimMissing, nil},
		{"restricted: locked param claim empty", restricted, ident("acme", map[string]any{"region": ""}), dash42, ReasonClaimMissing, nil},
		// Metabase's database-routing escape value is never a locked value (issue 12 §5).
		{"routing value as tenant", open, ident("__METABASE_ROUTER__", nil), dash42, ReasonReservedValue, nil},
		{"routing value as tenant, lower case and spaced", open, ident(" __metabase_router__\t", nil), dash42, ReasonReservedValue, nil},
		{"routing value in a locked param", restricted, ident("acme", map[string]any{"region": "__Metabase_Router__"}), dash42, ReasonReservedValue, nil},
		{"require claims: match", restricted, ident("globex", map[string]any{"plan": "enterprise"}), auth.Resource{Kind: auth.KindDashboard, ID: 43}, ReasonAllowed, map[string]any{"organization_id": "globex"}},
		{"require claims: mismatch", restricted, ident("globex", map[string]any{"plan": "free"}), auth.Resource{Kind: auth.KindDashboard, ID: 43}, ReasonResourceNotAllowed, nil},
		{"require claims: absent", restricted, ident("globex", nil), auth.Resource{Kind: auth.KindDashboard, ID: 43}, ReasonResourceNotAllowed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, d := tt.e.Mint(tt.id, tt.res)
			if d.Reason != tt.reason || d.Allow != (tt.reason == ReasonAllowed) {
				t.Fatalf("Mint() = %+v, want reason %s", d, tt.reason)
			}
			if !reflect.DeepEqual(g.Params, tt.params) {
				t.Errorf("params = %v, want %v", g.Params, tt.params)
			}
		})
	}
}

func handle(tenant string, res auth.Resource) *auth.HandleClaims {
	return &auth.HandleClaims{Resource: res, Tenant: tenant, Params: map[string]any{"organization_id": tenant}, IssuedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(9 * time.Minute)}
}

func mustPath(t testing.TB, p string) EmbedPath {
	t.Helper()
	ep, err := ParseEmbedPath(p, 4096)
	if err != nil {
		t.Fatalf("ParseEmbedPath(%q): %v", p, err)
	}
	return ep
}

func TestEmbed(t *testing.T) {
	open := engine(t)
	rich := engine(t, configs.ResourcePolicy{Dashboard: 42, EditableParams: []string{"status"}, Downloads: true, ValueListings: []string{"p_status"}})
	acme := ident("acme", nil)
	h := handle("acme", dash42)
	good := Credential{Handle: h, SubjectMatch: true}
	const dq = "/api/embed/dashboard/" + tok + "/dashcard/1/card/1"
	tests := []struct {
		name     string
		e        *Engine
		cred     Credential
		path     string
		query    string
		reason   Reason
		mismatch string
		upQuery  string
		renew    bool
	}{
		{"own handle, dashcard query", open, good, dq, "", ReasonAllowed, "", "", false},
		{"own handle, page", open, good, "/embed/dashboard/" + tok, "", ReasonAllowed, "", "", false},
		{"other tenant's handle", open, Credential{Handle: handle("globex", dash42), SubjectMatch: true}, dq, "", ReasonTenantMismatch, "handle", "", false},
		{"handle params name another tenant", open, Credential{Handle: &auth.HandleClaims{Resource: dash42, Tenant: "acme", Params: map[string]any{"organization_id": "globex"}, IssuedAt: t0}, SubjectMatch: true}, dq, "", ReasonTenantMismatch, "handle", "", false},
		{"handle params with [] tenant", open, Credential{Handle: &auth.HandleClaims{Resource: dash42, Tenant: "acme", Params: map[string]any{"organization_id": []any{}}, IssuedAt: t0}, SubjectMatch: true}, dq, "", ReasonTenantMismatch, "handle", "", false},
		{"other subject", open, Credential{Handle: h, SubjectMatch: false}, dq, "", ReasonSubjectMismatch, "", "", false},
		{"dashboard handle on card path", open, good, "/api/embed/card/" + tok + "/query", "", ReasonHandleInvalid, "", "", false},
		{"no credential", open, Credential{}, dq, "", ReasonHandleInvalid, "", "", false},
		{"expired handle renewable", open, Credential{Handle: h, SubjectMatch: true, HandleExpired: true}, dq, "", ReasonAllowed, "", "", true},
		{"expired handle past renewal", open, Credential{Handle: &auth.HandleClaims{Resource: dash42, Tenant: "acme", Params: map[string]any{"organization_id": "acme"}, IssuedAt: t0.Add(-13 * time.Hour)}, SubjectMatch: true, HandleExpired: true}, dq, "", ReasonHandleExpired, "", "", false},
		{"tenant override in query", open, good, dq, "organization_id=globex", ReasonParamNotAllowed, "param", "", false},
		{"tenant override in parameters", open, good, dq, `parameters={"organization_id":"globex"}`, ReasonParamNotAllowed, "param", "", false},
		{"tenant override by escape", open, good, dq, `parameters={"organization\u005fid":"globex"}`, ReasonParamNotAllowed, "param", "", false},
		{"unknown param", open, good, dq, `parameters={"status":"paid"}`, ReasonParamNotAllowed, "", "", false},
		{"empty parameters object", open, good, dq, `parameters={}`, ReasonAllowed, "", "parameters=%7B%7D", false},
		{"editable param", rich, good, dq, `parameters={"status":"paid"}`, ReasonAllowed, "", "parameters=%7B%22status%22%3A%22paid%22%7D", false},
		{"editable list", rich, good, dq, `parameters={"status":["paid","pending"]}`, ReasonAllowed, "", "parameters=%7B%22status%22%3A%5B%22paid%22%2C%22pending%22%5D%7D", false},
		{"editable object value", rich, good, dq, `parameters={"status":{"a":1}}`, ReasonParamNotAllowed, "", "", false},
		{"parameters not JSON", rich, good, dq, `parameters=nope`, ReasonMalformedRequest, "", "", false},
		{"parameters twice", rich, good, dq, `parameters={}&parameters={}`, ReasonParamNotAllowed, "", "", false},
		{"legacy editable slug", rich, good, dq, `status=paid`, ReasonAllowed, "", "status=paid", false},
		{"legacy slug beside JSON", rich, good, dq, `parameters={}&status=paid`, ReasonParamNotAllowed, "", "", false},
		{"legacy tenant slug", rich, good, dq, `organization_id=acme`, ReasonParamNotAllowed, "param", "", false},
		{"download not allowed", open, good, dq + "/csv", "", ReasonDownloadNotAllowed, "", "", false},
		{"download allowed with flags", rich, good, dq + "/csv", "format_rows=true", ReasonAllowed, "", "format_rows=true", false},
		{"page export not allowed", open, Credential{Handle: handle("acme", auth.Resource{Kind: auth.KindQuestion, ID: 1}), SubjectMatch: true}, "/embed/question/" + tok + ".csv", "", ReasonDownloadNotAllowed, "", "", false},
		{"listing not allowed by default", open, good, "/api/embed/dashboard/" + tok + "/params/p_status/values", "", ReasonListingNotAllowed, "", "", false},
		{"listing allowed", rich, good, "/api/embed/dashboard/" + tok + "/params/p_status/values", "", ReasonAllowed, "", "", false},
		{"listing of another param", rich, good, "/api/embed/dashboard/" + tok + "/params/p_org/values", "", ReasonListingNotAllowed, "", "", false},
		{"listing with constraints", rich, good, "/api/embed/dashboard/" + tok + "/params/p_status/values", "p_org=globex", ReasonParamNotAllowed, "", "", false},
		{"info with query", open, good, "/api/embed/dashboard/" + tok, "x=1", ReasonParamNotAllowed, "", "", false},
		{"page with tenant in query", open, good, "/embed/dashboard/" + tok, "organization_id=globex", ReasonParamNotAllowed, "param", "", false},
		{"page with editable filter", rich, good, "/embed/dashboard/" + tok, "status=paid", ReasonAllowed, "", "status=paid", false},
		{"pass-through token own tenant", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": "acme"}}}, dq, "", ReasonAllowed, "", "", false},
		{"pass-through token numeric tenant", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": float64(7)}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through other tenant", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": "globex"}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through []", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": []any{}}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through null", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": nil}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through empty string", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": ""}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through array with foreign", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{"organization_id": []any{"acme", "globex"}}}}, dq, "", ReasonTenantMismatch, "token", "", false},
		{"pass-through missing tenant", open, Credential{Token: &auth.EmbedToken{Resource: dash42, Params: map[string]any{}}}, dq, "", ReasonTenantMismatch, "token", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			g, d := tt.e.Embed(acme, tt.cred, mustPath(t, tt.path), q, t0)
			if d.Reason != tt.reason || d.Allow != (tt.reason == ReasonAllowed) {
				t.Fatalf("Embed() = %+v, want reason %s", d, tt.reason)
			}
			if d.Mismatch != tt.mismatch {
				t.Errorf("mismatch = %q, want %q", d.Mismatch, tt.mismatch)
			}
			if !d.Allow {
				return
			}
			if g.Query != tt.upQuery {
				t.Errorf("upstream query = %q, want %q", g.Query, tt.upQuery)
			}
			if g.Renew != tt.renew {
				t.Errorf("renew = %v, want %v", g.Renew, tt.renew)
			}
			if tt.cred.Handle != nil {
				if got := g.Params["organization_id"]; got != "acme" {
					t.Errorf("locked tenant = %v, want acme", got)
				}
			}
		})
	}
}

func TestReasonsHaveStatusAndMessage(t *testing.T) {
	for _, r := range Reasons {
		if _, ok := reasonInfo[r]; !ok {
			t.Errorf("reason %q has no status and message", r)
		}
	}
	if len(reasonInfo) != len(Reasons) {
		t.Errorf("reasonInfo has %d entries, Reasons %d", len(reasonInfo), len(Reasons))
	}
}

// TestParametersMemo: an accepted `parameters` JSON is remembered per rule
// only: the same JSON on a resource whose rule does not allow the filter is
// still refused, and a remembered answer equals a fresh one.
func TestParametersMemo(t *testing.T) {
	e := engine(t,
		configs.ResourcePolicy{Dashboard: 42, EditableParams: []string{"status"}},
		configs.ResourcePolicy{Dashboard: 43},
	)
	acme := ident("acme", nil)
	dash43 := auth.Resource{Kind: auth.KindDashboard, ID: 43}
	path := mustPath(t, "/api/embed/dashboard/"+tok+"/dashcard/1/card/1")
	q := url.Values{"parameters": {`{"status": "paid"}`}}
	want := "parameters=%7B%22status%22%3A%22paid%22%7D"
	for i, tc := range []struct {
		res    auth.Resource
		reason Reason
		query  string
	}{
		{dash42, ReasonAllowed, want},       // computed, remembered
		{dash42, ReasonAllowed, want},       // remembered
		{dash43, ReasonParamNotAllowed, ""}, // same JSON, a rule without the filter
		{dash42, ReasonAllowed, want},       // still remembered for 42
		{dash43, ReasonParamNotAllowed, ""}, // a refusal is not remembered as anything
	} {
		g, d := e.Embed(acme, Credential{Handle: handle("acme", tc.res), SubjectMatch: true}, path, q, t0)
		if d.Reason != tc.reason || g.Query != tc.query {
			t.Errorf("call %d on %v: %s %q, want %s %q", i, tc.res, d.Reason, g.Query, tc.reason, tc.query)
		}
	}
	if n := e.parameters.Len(); n != 1 {
		t.Errorf("%d remembered parameters, want 1 (only the accepted one)", n)
	}
	// Large JSON is accepted but not remembered: entries bound memory.
	big := url.Values{"parameters": {`{"status":"` + strings.Repeat("p", maxRememberedParameters) + `"}`}}
	if _, d := e.Embed(acme, Credential{Handle: handle("acme", dash42), SubjectMatch: true}, path, big, t0); !d.Allow {
		t.Fatalf("large filter value refused: %+v", d)
	}
	if n := e.parameters.Len(); n != 1 {
		t.Errorf("%d remembered parameters after a large one, want still 1", n)
	}
}
