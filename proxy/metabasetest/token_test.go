package metabasetest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSign(t *testing.T) {
	token := Sign(testSecret, map[string]any{"a": 1})
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("Sign() = %q, want three segments", token)
	}
	header, err := strictBase64(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(header), `{"alg":"HS256","typ":"JWT"}`; got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	if !tokenPattern.MatchString(token) {
		t.Errorf("Sign() = %q does not match Metabase's token route schema", token)
	}
}

func TestTokenVerification(t *testing.T) {
	now := testNow.Unix()
	base := claimsFor("dashboard", DashboardOrders, acme())
	payload := func(c map[string]any) []byte { b, _ := json.Marshal(c); return b }
	hs256 := []byte(`{"alg":"HS256","typ":"JWT"}`)
	corrupt := "Message seems corrupt or manipulated"

	hexDecoded, err := hex.DecodeString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	tampered := func() string {
		parts := strings.Split(Sign(testSecret, base), ".")
		parts[1] = b64(payload(claimsFor("dashboard", DashboardOrders, map[string]any{"organization_id": "globex"})))
		return strings.Join(parts, ".")
	}()

	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantBody   string // exact body for errors; "" to skip
	}{
		{"valid", Sign(testSecret, base), 200, ""},
		{"wrong key", Sign("0000000000000000000000000000000000000000000000000000000000000000", base), 400, corrupt},
		{"hex-decoded key", Sign(string(hexDecoded), base), 400, corrupt},
		{"tampered payload", tampered, 400, corrupt},
		{"alg none unsigned", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload(base)) + ".", 400, "JWT `alg` cannot be `none`."},
		{"alg none signed", signRaw(testSecret, []byte(`{"alg":"none"}`), payload(base)), 400, "JWT `alg` cannot be `none`."},
		{"alg NONE unsigned fails the signature", b64([]byte(`{"alg":"NONE"}`)) + "." + b64(payload(base)) + ".", 400, corrupt},
		{"missing alg", signRaw(testSecret, []byte(`{"typ":"JWT"}`), payload(base)), 400, "JWT is missing `alg`."},
		{"null alg", signRaw(testSecret, []byte(`{"alg":null}`), payload(base)), 400, "JWT is missing `alg`."},
		{"header not an object", signRaw(testSecret, []byte(`["HS256"]`), payload(base)), 400, "JWT is missing `alg`."},
		{"HS512 header over an HS256 signature", signRaw(testSecret, []byte(`{"alg":"HS512","typ":"JWT"}`), payload(base)), 200, ""},
		{"RS256 header over an HS256 signature", signRaw(testSecret, []byte(`{"alg":"RS256"}`), payload(base)), 200, ""},
		{"real HS512 signature", signHS512(testSecret, base), 400, corrupt},
		{"two segments", b64(hs256) + "." + b64(payload(base)), 400, corrupt},
		{"expired", Sign(testSecret, withClaims(base, map[string]any{"exp": now - 61})), 400, fmt.Sprintf("Token is expired (%d)", now-61)},
		{"expired at the leeway", Sign(testSecret, withClaims(base, map[string]any{"exp": now - 60})), 400, fmt.Sprintf("Token is expired (%d)", now-60)},
		{"within the leeway", Sign(testSecret, withClaims(base, map[string]any{"exp": now - 59})), 200, ""},
		{"exp in the future", Sign(testSecret, withClaims(base, map[string]any{"exp": now + 600})), 200, ""},
		{"no exp", Sign(testSecret, base), 200, ""},
		{"exp zero is expired", Sign(testSecret, withClaims(base, map[string]any{"exp": 0})), 400, "Token is expired (0)"},
		{"exp null is no exp", Sign(testSecret, withClaims(base, map[string]any{"exp": nil})), 200, ""},
		{"exp as a double", signRaw(testSecret, hs256, []byte(`{"resource":{"dashboard":1},"params":{},"exp":1.7e9}`)), 400, "Token is expired (1.7E9)"},
		{"exp as a string", Sign(testSecret, withClaims(base, map[string]any{"exp": "2999999999"})), 400,
			"class java.lang.String cannot be cast to class java.lang.Number (java.lang.String and java.lang.Number are in module java.base of loader 'bootstrap')"},
		{"nbf too far ahead", Sign(testSecret, withClaims(base, map[string]any{"nbf": now + 61})), 400, fmt.Sprintf("Token is not yet valid (%d)", now+61)},
		{"nbf within the leeway", Sign(testSecret, withClaims(base, map[string]any{"nbf": now + 60})), 200, ""},
		{"iat in the future is ignored", Sign(testSecret, withClaims(base, map[string]any{"iat": now + 3600})), 200, ""},
		{"extra claims are ignored", Sign(testSecret, withClaims(base, map[string]any{"iss": "app", "_embedding_params": map[string]any{"organization_id": "enabled"}})), 200, ""},
		{"payload not JSON", signRaw(testSecret, hs256, []byte(`not json`)), 400, "Message seems corrupt or manipulated."},
		{"payload a JSON array", signRaw(testSecret, hs256, []byte(`[1,2]`)), 400, "Token is missing value for keypath [:resource :dashboard]"},
		{"missing params", Sign(testSecret, map[string]any{"resource": map[string]any{"dashboard": 1}}), 400, "Token is missing value for keypath [:params]"},
		{"null params", dashToken(DashboardOrders, nil), 400, "Token is missing value for keypath [:params]"},
		{"false params", dashToken(DashboardOrders, false), 400, "Token is missing value for keypath [:params]"},
		{"empty params", dashToken(DashboardOrders, map[string]any{}), 200, ""},
		{"empty array params", dashToken(DashboardOrders, []any{}), 200, ""},
		{"string params", dashToken(DashboardOrders, "acme"), 400, msgParamsNotMap},
		{"missing resource", Sign(testSecret, map[string]any{"params": acme()}), 400, "Token is missing value for keypath [:resource :dashboard]"},
		{"question token", cardToken(QuestionOrders, acme()), 400, "Token is missing value for keypath [:resource :dashboard]"},
		{"numeric string id", dashToken("1", acme()), 400, "problem looking up id from entity_id"},
		{"entity id", dashToken("OrdersOverviewDash001", acme()), 200, ""},
		{"card entity id as dashboard", dashToken("OrdersCard00000000001", acme()), 400, "problem looking up id from entity_id"},
		{"bad question id fails first", Sign(testSecret, map[string]any{"resource": map[string]any{"question": "8", "dashboard": 1}, "params": acme()}), 400, "problem looking up id from entity_id"},
		{"zero id", dashToken(0, acme()), 400, "Invalid ID."},
		{"negative id", dashToken(-1, acme()), 400, "Invalid ID."},
		{"double id", signRaw(testSecret, hs256, []byte(`{"resource":{"dashboard":1.0},"params":{}}`)), 400, "Invalid ID."},
		{"unknown id", dashToken(99, acme()), 400, "Not found."},
		{"unpublished", dashToken(DashboardUnpublished, acme()), 400, "Embedding is not enabled for this object."},
		{"archived", dashToken(DashboardArchived, acme()), 400, "The object has been archived."},
		{"object checks before params", Sign(testSecret, map[string]any{"resource": map[string]any{"dashboard": DashboardUnpublished}}), 400, "Embedding is not enabled for this object."},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+"/api/embed/dashboard/"+tt.token)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
			if tt.wantStatus == 400 {
				if got := res.header.Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
					t.Errorf("Content-Type = %q, want text/plain", got)
				}
			}
		})
	}
}

func TestTokenRouteSchema(t *testing.T) {
	valid := dashToken(DashboardOrders, acme())
	tests := []struct {
		name  string
		token string
	}{
		{"no dot", "abcdef"},
		{"percent-encoded", strings.Replace(valid, ".", "%2E", 1)},
		{"plus in header", "a+b." + strings.SplitN(valid, ".", 2)[1]},
		{"empty", ""},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+"/api/embed/dashboard/"+tt.token)
			if res.status != 404 || res.body != "API endpoint does not exist." {
				t.Errorf("got %d %q, want 404 %q", res.status, res.body, "API endpoint does not exist.")
			}
		})
	}
}

func TestSecretAndGlobalSwitch(t *testing.T) {
	valid := dashToken(DashboardOrders, acme())
	tests := []struct {
		name     string
		opts     Options
		token    string
		wantBody string
	}{
		{"no secret", Options{}, valid, "The embedding secret key has not been set."},
		{"no secret, alg none checked first", Options{}, b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{}`)) + ".", "JWT `alg` cannot be `none`."},
		{"static embedding disabled", Options{SecretKey: testSecret, StaticEmbeddingDisabled: true}, valid, "Embedding is not enabled."},
		{"disabled before not found", Options{SecretKey: testSecret, StaticEmbeddingDisabled: true}, dashToken(99, acme()), "Embedding is not enabled."},
		{"disabled after the signature", Options{SecretKey: testSecret, StaticEmbeddingDisabled: true}, Sign("wrong", claimsFor("dashboard", 1, acme())), "Message seems corrupt or manipulated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, tt.opts)
			res := get(t, ts.URL+"/api/embed/dashboard/"+tt.token+"/dashcard/11/card/1")
			if res.status != 400 || res.body != tt.wantBody {
				t.Errorf("got %d %q, want 400 %q", res.status, res.body, tt.wantBody)
			}
		})
	}
}

func TestJavaDouble(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{1.7e9, "1.7E9"},
		{2e9, "2.0E9"},
		{1e7, "1.0E7"},
		{9999999, "9999999.0"},
		{123.5, "123.5"},
		{0.001, "0.001"},
		{0.0001, "1.0E-4"},
		{0, "0.0"},
		{-1.5e10, "-1.5E10"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := javaDouble(tt.in); got != tt.want {
				t.Errorf("javaDouble(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzToken sends arbitrary token segments through the whole API: the
// stand-in must answer with one of Metabase's statuses and never panic.
func FuzzToken(f *testing.F) {
	f.Add(dashToken(DashboardOrders, acme()))
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"resource":{"dashboard":1},"params":{}}`)) + ".")
	f.Add(signRaw(testSecret, []byte(`{"alg":"HS256"}`), []byte(`{"resource":{"dashboard":"x"},"params":[1],"exp":"x"}`)))
	f.Add("a.b.c.d")
	f.Add("===.===.")
	s := New(Options{SecretKey: testSecret})
	f.Fuzz(func(t *testing.T, token string) {
		for _, path := range []string{"/api/embed/dashboard/%s", "/api/embed/dashboard/%s/dashcard/11/card/1", "/api/embed/card/%s/query",
			"/api/embed/dashboard/%s/params/p_status/values"} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.RawPath = fmt.Sprintf(path, token)
			req.URL.Path = req.URL.RawPath
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			switch rec.Code {
			case 200, 202, 400, 404:
			default:
				t.Errorf("%s: status %d", req.URL.RawPath, rec.Code)
			}
		}
		s.Reset()
	})
}
