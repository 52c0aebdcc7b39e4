package policy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
)

// fuzzPaths are embed paths of every endpoint: the fuzzer picks one when
// its own path does not parse, so the query rules are always reached.
var fuzzPaths = []string{
	"/embed/dashboard/" + tok,
	"/embed/question/" + tok,
	"/embed/question/" + tok + ".csv",
	"/api/embed/dashboard/" + tok,
	"/api/embed/dashboard/" + tok + "/dashcard/11/card/1",
	"/api/embed/dashboard/" + tok + "/dashcard/11/card/1/csv",
	"/api/embed/card/" + tok + "/query",
	"/api/embed/card/" + tok + "/query/json",
	"/api/embed/pivot/card/" + tok + "/query",
	"/api/embed/dashboard/" + tok + "/params/p_status/values",
	"/api/embed/card/" + tok + "/params/p_status/search/pa",
	"/api/embed/card/" + tok + "/params/p_status/remapping",
	"/api/embed/tiles/card/" + tok + "/1/2/3",
}

// fuzzEngines: the open policy, and one that lets the browser set status
// and region, download, and list p_status, so allows are common.
func fuzzEngines(t testing.TB) []*Engine {
	mk := func(resources ...configs.ResourcePolicy) *Engine {
		cfg := &configs.Config{}
		cfg.Tenant.Param = "organization_id"
		cfg.Handles.RenewMax = 12 * time.Hour
		cfg.Limits.MaxTokenBytes = 4096
		cfg.Policy.Resources = resources
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	rich := func(kind string) configs.ResourcePolicy {
		r := configs.ResourcePolicy{EditableParams: []string{"status", "region", "Organization_ID"}, Downloads: true, ValueListings: []string{"p_status"}}
		if kind == auth.KindDashboard {
			r.Dashboard = 1
		} else {
			r.Question = 1
		}
		return r
	}
	return []*Engine{mk(), mk(rich(auth.KindDashboard), rich(auth.KindQuestion))}
}

// attackQueries are the query strings of proxy/testdata/attacks.txt (and
// a few more): seeds that already try every known way to name the tenant.
var attackQueries = []string{
	"",
	"organization_id=globex",
	"parameters=%7B%22organization_id%22%3A%22globex%22%7D",
	"parameters=%7B%22organization_id%22%3A%5B%5D%7D",
	"parameters=%7B%22organization_id%22%3Anull%7D",
	"parameters=%7B%22organization%5Cu005fid%22%3A%22globex%22%7D",
	"parameters=%7B%22foo%22%3A1%7D",
	"parameters=%7B%22region%22%3A%22eu%22%7D",
	"parameters=%7B%7D&parameters=%7B%22status%22%3A%22paid%22%7D",
	"parameters=%7B%22status%22%3A%22paid%22%2C%22status%22%3A%22x%22%7D",
	"status=paid",
	"parameters=%7B%7D&status=paid",
	"value=paid",
	"format_rows=true&pivot_results=false",
	"latField=a&lonField=b",
	"organization_id=acme&organization_id=globex",
	"Organization_ID=globex",
	"parameters=%7B%22status%22%3A%5B%22paid%22%2Cnull%2Ctrue%2C1.5e3%5D%7D",
	"parameters=%7B%22status%22%3A%22%3C%2Fscript%3E%22%7D",
}

// FuzzEmbedDecision is the policy decision as a whole: any identity, any
// handle or pass-through token, any path and query. Whenever it allows:
// the credential's tenant (handle tg_tenant and its tenant param, or the
// token's tenant param) is the identity's, the tenant param Metabase will
// receive is the identity's, and the canonical query sent upstream never
// names the tenant slug (as a key, or as a key of the parameters JSON)
// and passes the same check again unchanged.
func FuzzEmbedDecision(f *testing.F) {
	for i, q := range attackQueries {
		f.Add("acme", "acme", "acme", fuzzPaths[i%len(fuzzPaths)], q, uint8(i), uint8(i%4))
		f.Add("acme", "globex", "acme", fuzzPaths[i%len(fuzzPaths)], q, uint8(i+1), uint8(4))
	}
	f.Add("7", "7", "7", "/api/embed/dashboard/a.b.c/dashcard/1/card/2", "", uint8(3), uint8(8))
	f.Add("acme", "acme", "", "", "status=paid", uint8(4), uint8(1))
	f.Add(" ", " ", " ", "", "", uint8(4), uint8(0))
	engines := fuzzEngines(f)
	now := t0
	f.Fuzz(func(t *testing.T, idTenant, credTenant, paramTenant, path, rawQuery string, pick, flags uint8) {
		e := engines[int(flags>>7)]
		p, err := ParseEmbedPath(path, e.MaxTokenBytes())
		if err != nil {
			p = mustPath(t, fuzzPaths[int(pick)%len(fuzzPaths)])
		}
		res := auth.Resource{Kind: p.Kind, ID: 1}
		if flags&0x40 != 0 { // sometimes a credential for the other kind
			res.Kind = map[string]string{auth.KindDashboard: auth.KindQuestion, auth.KindQuestion: auth.KindDashboard}[p.Kind]
		}
		var tenantValue any = paramTenant
		if flags&0x20 != 0 { // a list, as Metabase would also accept
			tenantValue = []any{paramTenant}
		}
		var cred Credential
		if flags&0x08 != 0 {
			cred.Token = &auth.EmbedToken{Resource: res, Params: map[string]any{"organization_id": tenantValue}}
		} else {
			cred.Handle = &auth.HandleClaims{Resource: res, Tenant: credTenant, Params: map[string]any{"organization_id": tenantValue},
				IssuedAt: now.Add(-time.Duration(flags&0x10) * time.Hour), ExpiresAt: now.Add(time.Minute)}
			cred.SubjectMatch = flags&0x01 != 0
			cred.HandleExpired = flags&0x02 != 0
		}
		id := &auth.Identity{Subject: "u", Tenant: idTenant, Claims: map[string]any{"organization_id": idTenant}}
		q, _ := url.ParseQuery(rawQuery) // as r.URL.Query(): bad pairs dropped
		g, d := e.Embed(id, cred, p, q, now)
		if d.Allow != (d.Reason == ReasonAllowed) {
			t.Fatalf("decision %+v: Allow and Reason disagree", d)
		}
		if !d.Allow {
			return
		}
		if idTenant == "" {
			t.Fatalf("allowed an identity without a tenant")
		}
		if res.Kind != p.Kind {
			t.Fatalf("allowed a %s credential on a %s path", res.Kind, p.Kind)
		}
		if cred.Handle != nil {
			if cred.Handle.Tenant != idTenant {
				t.Fatalf("allowed handle of tenant %q for identity of tenant %q", cred.Handle.Tenant, idTenant)
			}
			if v, _ := claimString(cred.Handle.Params["organization_id"]); v != idTenant {
				t.Fatalf("allowed handle whose tenant param %#v is not %q", cred.Handle.Params["organization_id"], idTenant)
			}
			if !cred.SubjectMatch {
				t.Fatalf("allowed a handle minted for another subject")
			}
			if got := g.Params["organization_id"]; got != idTenant {
				t.Fatalf("grant's tenant param = %#v, want %q", got, idTenant)
			}
		} else if v, ok := claimString(g.Params["organization_id"]); !ok || v != idTenant {
			t.Fatalf("allowed pass-through token whose tenant param %#v is not %q", g.Params["organization_id"], idTenant)
		}
		up, err := url.ParseQuery(g.Query)
		if err != nil {
			t.Fatalf("canonical query %q does not parse: %v", g.Query, err)
		}
		if up.Encode() != g.Query {
			t.Fatalf("upstream query %q is not canonical (%q)", g.Query, up.Encode())
		}
		if _, ok := up["organization_id"]; ok {
			t.Fatalf("upstream query %q names the tenant slug", g.Query)
		}
		if raw, ok := up["parameters"]; ok {
			if len(raw) != 1 {
				t.Fatalf("upstream query %q has %d parameters", g.Query, len(raw))
			}
			checkCanonicalParameters(t, raw[0])
		}
		// What goes upstream passes the same check and comes out the same.
		g2, d2 := e.Embed(id, cred, p, up, now)
		if !d2.Allow || g2.Query != g.Query {
			t.Fatalf("canonical query %q re-checked: %+v, %q", g.Query, d2, g2.Query)
		}
	})
}

// checkCanonicalParameters asserts what Metabase will parse: one JSON
// object, no duplicate keys, no tenant slug, every key written literally
// (no escape Metabase could decode differently), already canonical.
func checkCanonicalParameters(t *testing.T, s string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if tk, err := dec.Token(); err != nil || tk != json.Delim('{') {
		t.Fatalf("parameters %q is not a JSON object", s)
	}
	seen := map[string]bool{}
	for dec.More() {
		tk, err := dec.Token()
		if err != nil {
			t.Fatalf("parameters %q: %v", s, err)
		}
		k := tk.(string)
		if seen[k] {
			t.Fatalf("parameters %q repeats key %q", s, k)
		}
		seen[k] = true
		if k == "organization_id" {
			t.Fatalf("parameters %q names the tenant slug", s)
		}
		if lit, _ := json.Marshal(k); !strings.Contains(s, string(lit)+":") || bytes.ContainsRune(lit, '\\') {
			t.Fatalf("parameters %q: key %q is not written literally", s, k)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("parameters %q: %v", s, err)
		}
	}
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(m); string(again) != s {
		t.Fatalf("parameters %q re-encode to %q", s, again)
	}
}

// FuzzParametersJSON is the canonicalisation of the browser's parameters
// JSON alone: whatever it accepts comes out as one canonical object of
// editable slugs only, never the tenant slug however it was spelled
// (escapes, duplicates, case), and canonicalising it again changes nothing.
func FuzzParametersJSON(f *testing.F) {
	for _, q := range attackQueries {
		if v, err := url.ParseQuery(q); err == nil && len(v["parameters"]) > 0 {
			f.Add(v["parameters"][0])
		}
	}
	for _, s := range []string{`{"status":"paid"}`, `{"status":["a","b"],"region":null}`, `{"status":"a","status":"b"}`,
		`{"organization\u005fid":"globex"}`, `{"status":1e400}`, `{"status":"\ud800"}`, `{"status":{}}`, `{} {}`, `[]`, `null`,
		"{\"status\":\"\xff\"}", `{"Organization_ID":"x"}`, `{"status":-0.0}`} {
		f.Add(s)
	}
	e := fuzzEngines(f)[1]
	r := e.rules[auth.Resource{Kind: auth.KindDashboard, ID: 1}]
	f.Fuzz(func(t *testing.T, raw string) {
		out, d := e.checkParametersJSON(r, raw)
		if !d.Allow {
			if d.Reason != ReasonMalformedRequest && d.Reason != ReasonParamNotAllowed {
				t.Fatalf("denied %q with reason %s", raw, d.Reason)
			}
			return
		}
		checkCanonicalParameters(t, out)
		var m map[string]any
		_ = json.Unmarshal([]byte(out), &m)
		for k := range m {
			if !r.editable[k] {
				t.Fatalf("%q canonicalised to %q, which sets the non-editable %q", raw, out, k)
			}
		}
		again, d2 := e.checkParametersJSON(r, out)
		if !d2.Allow || again != out {
			t.Fatalf("canonical %q re-checked: %+v, %q", out, d2, again)
		}
	})
}
