package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/configs"
)

// subjectCases are the subject claims a session may carry (issue 12 §4):
// a session without a usable subject is refused, or its handle would be
// bound to the tenant alone.
var subjectCases = []struct {
	name        string
	claim       string // the configured subject claim; "" is "sub"
	set         map[string]any
	wantSubject string
	want        error
}{
	{name: "sub", set: map[string]any{"sub": "user-1"}, wantSubject: "user-1"},
	{name: "integer sub", set: map[string]any{"sub": 42}, wantSubject: "42"},
	{name: "no sub", set: map[string]any{}, want: ErrSubjectMissing},
	{name: "empty sub", set: map[string]any{"sub": ""}, want: ErrSubjectMissing},
	{name: "blank sub", set: map[string]any{"sub": " \t"}, want: ErrSubjectMissing},
	{name: "null sub", set: map[string]any{"sub": nil}, want: ErrSubjectMissing},
	{name: "bool sub", set: map[string]any{"sub": true}, want: ErrSubjectMissing},
	{name: "array sub", set: map[string]any{"sub": []any{"user-1"}}, want: ErrSubjectMissing},
	{name: "object sub", set: map[string]any{"sub": map[string]any{"id": "user-1"}}, want: ErrSubjectMissing},
	{name: "configured claim", claim: "uid", set: map[string]any{"uid": "u-7", "sub": "ignored"}, wantSubject: "u-7"},
	// With a configured claim, a sub does not stand in for it.
	{name: "configured claim absent, sub present", claim: "uid", set: map[string]any{"sub": "user-1"}, want: ErrSubjectMissing},
}

func TestJWTSubjectRequired(t *testing.T) {
	clock := newFakeClock()
	for _, tc := range subjectCases {
		t.Run(tc.name, func(t *testing.T) {
			a := newHSAuth(t, clock, func(c *configs.SessionConfig) { c.SubjectClaim = tc.claim })
			c := claimsAt(clock.Now())
			delete(c, "sub")
			for k, v := range tc.set {
				c[k] = v
			}
			id, err := a.Authenticate(context.Background(), bearerRequest(signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)))
			checkErr(t, err, tc.want)
			if err == nil && id.Subject != tc.wantSubject {
				t.Errorf("subject %q, want %q", id.Subject, tc.wantSubject)
			}
		})
	}
}

func TestIntrospectSubjectRequired(t *testing.T) {
	clock := newFakeClock()
	for _, tc := range subjectCases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{testTenantClaim: "acme"}
			for k, v := range tc.set {
				body[k] = v
			}
			b, _ := json.Marshal(body)
			srv := newIntrospectServer(t, answer(http.StatusOK, string(b)))
			in, err := NewIntrospector(configs.IntrospectConfig{URL: srv.URL}, testTenantClaim, IntrospectOptions{Now: clock.Now, SubjectClaim: tc.claim})
			if err != nil {
				t.Fatal(err)
			}
			id, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
			checkErr(t, err, tc.want)
			if err == nil && id.Subject != tc.wantSubject {
				t.Errorf("subject %q, want %q", id.Subject, tc.wantSubject)
			}
		})
	}
}

func TestSubjectClaimIsNotTheTenantClaim(t *testing.T) {
	_, err := NewJWTAuthenticator(configs.SessionConfig{JWTSecrets: []configs.Secret{newSecret}, SubjectClaim: testTenantClaim}, testTenantClaim, JWTOptions{})
	if err == nil {
		t.Error("a subject claim equal to the tenant claim was accepted")
	}
}

func TestEncodeEmailPart(t *testing.T) {
	for in, want := range map[string]string{
		"acme":                 "acme",
		"org-42":               "org-42",
		"Acme":                 "_41cme",
		"a+b":                  "a_2bb",
		"a@b.example":          "a_40b_2eexample",
		"a_2bb":                "a_5f2bb",
		"auth0|5f7c":           "auth0_7c5f7c",
		"é":                    "_c3_a9",
		"__metabase_router__":  "_5f_5fmetabase_5frouter_5f_5f",
		"x\x00y":               "x_00y",
		strings.Repeat("-", 3): "---",
	} {
		if got := EncodeEmailPart(in); got != want {
			t.Errorf("EncodeEmailPart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsRouterValue(t *testing.T) {
	for v, want := range map[string]bool{
		RouterValue:                   true,
		"__metabase_router__":         true,
		" __METABASE_ROUTER__\n":      true,
		"__METABASE_\tROUTER__":       true,
		"__METABASE_\u200bROUTER__":   true,
		"__METABASE_ROUTER__x":        false,
		"_METABASE_ROUTER_":           false,
		"acme":                        false,
		"":                            false,
		"__METABASE_ROUTER__ __":      false,
		"\u00a0__Metabase_Router__\r": true,
	} {
		if got := IsRouterValue(v); got != want {
			t.Errorf("IsRouterValue(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestSSOMintRefusesRouterValue: the gate never sends Metabase's routing
// escape value, whether as the tenant, an attribute or a tenant attribute.
func TestSSOMintRefusesRouterValue(t *testing.T) {
	tests := []struct {
		name string
		o    SSOOptions
		id   Identity
	}{
		{"tenant", SSOOptions{}, Identity{Subject: "u", Tenant: "__metabase_router__"}},
		{"attribute", SSOOptions{Attributes: []string{"db"}}, Identity{Subject: "u", Tenant: "acme", Claims: map[string]any{"db": " __METABASE_ROUTER__"}}},
		{"tenant attribute", SSOOptions{Tenants: true, TenantAttributes: []string{"db"}}, Identity{Subject: "u", Tenant: "acme", Claims: map[string]any{"db": RouterValue}}},
		{"tenant with tenants", SSOOptions{Tenants: true}, Identity{Subject: "u", Tenant: RouterValue}},
		{"first name", SSOOptions{}, Identity{Subject: "u", Tenant: "acme", FirstName: RouterValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Secret, o.TenantAttribute = "s", "organization_id"
			m, err := NewSSOMinter(o)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := m.Mint(&tt.id); !errors.Is(err, ErrSSOReserved) {
				t.Errorf("err = %v, want ErrSSOReserved", err)
			}
		})
	}
}

// emailTemplates are templates configs accepts; the fuzz property holds
// for each.
var emailTemplates = []string{
	"",
	"{{ .Subject }}+{{ .Tenant }}@tenantgate.invalid",
	"{{ .Tenant }}.{{ .Subject }}@Sso.Example",
	"x{{ .Subject }}.y-{{ .Tenant }}+z@a.example",
	"{{ .Email }}+{{ .Subject }}.{{ .Tenant }}@a.example",
}

// FuzzSSOEmailInjective: for every accepted template, two different
// (subject, tenant, email) identities never render the same Metabase
// email, even after Metabase lower-cases it, and every rendering is one
// address with the template's own domain.
func FuzzSSOEmailInjective(f *testing.F) {
	seeds := [][4]string{
		{"a+b", "c", "a", "b+c"},
		{"a", "b.c", "a.b", "c"},
		{"Alice", "acme", "alice", "acme"},
		{"alice", "a@b", "alice@a", "b"},
		{"a_2bb", "x", "a+b", "x"},
		{"u", "__METABASE_ROUTER__", "u", "__metabase_router__"},
		{"é", "x", "\xc3\xa9", "x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], "e@x", "e@x")
	}
	var minters []*SSOMinter
	for _, tmpl := range emailTemplates {
		m, err := NewSSOMinter(SSOOptions{Secret: "s", TenantAttribute: "organization_id", EmailTemplate: tmpl})
		if err != nil {
			f.Fatalf("template %q: %v", tmpl, err)
		}
		minters = append(minters, m)
	}
	f.Fuzz(func(t *testing.T, s1, t1, s2, t2, e1, e2 string) {
		a := &Identity{Subject: s1, Tenant: t1, Email: e1}
		b := &Identity{Subject: s2, Tenant: t2, Email: e2}
		for i, m := range minters {
			checkInjective(t, m, emailTemplates[i], a, b)
		}
	})
}

// metabaseEmail is the shape of address Metabase's email check accepts.
var metabaseEmail = regexp.MustCompile(`^[a-z0-9!#$%&'*+/=?^_{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// checkInjective fails unless m renders a and b as valid lower-case
// addresses that differ whenever the identities differ in a field the
// template names.
func checkInjective(t *testing.T, m *SSOMinter, tmpl string, a, b *Identity) {
	t.Helper()
	ea, errA := m.Email(a)
	eb, errB := m.Email(b)
	for _, e := range []string{ea, eb} {
		if e != "" && (e != strings.ToLower(e) || !metabaseEmail.MatchString(e)) {
			t.Fatalf("template %q renders %q: not a lower-case address Metabase accepts", tmpl, e)
		}
	}
	if errA != nil || errB != nil {
		return
	}
	same := a.Subject == b.Subject && a.Tenant == b.Tenant && (a.Email == b.Email || !strings.Contains(tmpl, ".Email"))
	if !same && strings.EqualFold(ea, eb) {
		t.Fatalf("template %q: (%q, %q, %q) and (%q, %q, %q) both render %q", tmpl, a.Subject, a.Tenant, a.Email, b.Subject, b.Tenant, b.Email, ea)
	}
}

// FuzzEmailTemplate: any template configs accepts (tenants off) renders
// every identity as an address Metabase accepts, and distinct subjects or
// tenants as distinct addresses: the template check is what the
// injectivity rests on.
func FuzzEmailTemplate(f *testing.F) {
	for _, tmpl := range emailTemplates {
		f.Add(tmpl, "a+b", "c", "a", "b+c")
	}
	f.Add("{{ .Subject }}+{{ .Tenant }}x@a.b", "a", "bx", "ax", "b")
	// Templates the check refuses, each with identities it would merge.
	f.Add("{{ .Subject }}x{{ .Tenant }}@a.b", "a", "xb", "ax", "b")
	f.Add("{{ .Subject }}{{ .Tenant }}@a.b", "ab", "c", "a", "bc")
	f.Add("{{ .Subject }}@{{ .Tenant }}.b", "a", "b", "a", "B")
	f.Add("{{ .Subject }}.{{ .Claims.c }}+{{ .Tenant }}@a.b", "A", "a", "a", "A")
	f.Fuzz(func(t *testing.T, tmpl, s1, t1, s2, t2 string) {
		if tmpl == "" {
			return
		}
		m, err := NewSSOMinter(SSOOptions{Secret: "s", TenantAttribute: "organization_id", EmailTemplate: tmpl})
		if err != nil {
			return
		}
		claims := map[string]any{"c": "v"}
		checkInjective(t, m, tmpl, &Identity{Subject: s1, Tenant: t1, Email: "e@x", Claims: claims}, &Identity{Subject: s2, Tenant: t2, Email: "e@x", Claims: claims})
	})
}
