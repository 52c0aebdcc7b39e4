package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
	"github.com/tenantgate/tenantgate/proxy/sso"
)

// ssoCookieName is the sealed cookie's name, as browsers see it.
const ssoCookieName = sso.CookieName

// sdkSession is the SDK's answer to /auth/sso with a ticket.
type sdkSession struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Exp    int64  `json:"exp"`
	Iat    int64  `json:"iat"`
}

const (
	testSSOSecret  = "sso-shared-secret-0123456789abcdef0123456789"
	testSealKey    = "seal-key-0123456789abcdef0123456789abcdef"
	testSSOPrefix  = "/analytics"
	testPublicURL  = "https://app.example"
	sdkClient      = "embedding-sdk-react"
	embeddedGroup  = "Embedded customers"
	appGroupCustom = "customer"
)

// newSSOHarness is a gate with SSO on, under /analytics, in front of a
// stand-in with JWT SSO, group sync and sandboxing on. App group
// "customer" maps to the sandboxed "Embedded customers".
func newSSOHarness(t *testing.T, tweak func(*configs.Config)) *harness {
	t.Helper()
	return newSSOHarnessMB(t, metabasetest.SSOOptions{}, tweak)
}

// newSSOHarnessMB is newSSOHarness with more of the stand-in's SSO options
// (its secret, provider URI and group sync are always set).
func newSSOHarnessMB(t *testing.T, mb metabasetest.SSOOptions, tweak func(*configs.Config)) *harness {
	t.Helper()
	mb.SharedSecret, mb.IdentityProviderURI, mb.GroupSync = testSSOSecret, "http://app.example/sso", true
	h := &harness{t: t, mb: metabasetest.New(metabasetest.Options{SecretKey: testMBKey, Sandboxing: true, SSO: mb})}
	h.mbSrv = httptest.NewServer(h.mb)
	t.Cleanup(h.mbSrv.Close)
	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = h.mbSrv.URL
	cfg.Metabase.EmbeddingSecretKey = testMBKey
	cfg.Session.JWTSecrets = []configs.Secret{testSessionKey}
	cfg.Handles.Secrets = []configs.Secret{testHandleKey}
	cfg.FrameAncestors = []string{"'self'"}
	cfg.PublicPrefix = testSSOPrefix
	cfg.PublicURL = testPublicURL
	cfg.SSO = configs.SSOConfig{
		JWTSharedSecret: testSSOSecret,
		SealingKeys:     []configs.Secret{testSealKey},
		GroupMappings:   map[string]string{appGroupCustom: embeddedGroup},
		Attributes:      []string{"region"},
	}
	cfg.ApplyDefaults()
	if tweak != nil {
		tweak(cfg)
	}
	h.start(cfg)
	return h
}

// ssoSession signs an app session for subject in tenant, a "customer"
// with a region claim.
func ssoSession(subject, tenant string, ttl time.Duration) string {
	claims := jwt.MapClaims{"sub": subject, "email": subject + "@example.com", "first_name": strings.ToUpper(subject[:1]) + subject[1:],
		"groups": []string{appGroupCustom, "staff"}, "region": "eu", "exp": time.Now().Add(ttl).Unix()}
	if tenant != "" {
		claims["organization_id"] = tenant
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSessionKey))
	if err != nil {
		panic(err)
	}
	return s
}

// send is h.do with a body.
func (h *harness) send(method, target, sess string, hdr http.Header, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	if sess != "" {
		r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
	}
	w := httptest.NewRecorder()
	h.stack.Gate.ServeHTTP(w, r)
	h.noSessionKeyIn(w)
	return w
}

// noSessionKeyIn fails the test if a response carries a real Metabase
// session key anywhere: status line aside, every header and the body.
func (h *harness) noSessionKeyIn(w *httptest.ResponseRecorder) {
	h.t.Helper()
	body := w.Body.String()
	for _, key := range h.mb.SessionKeys() {
		if strings.Contains(body, key) {
			h.t.Errorf("a response body holds a Metabase session key: %s", body)
		}
		for k, vs := range w.Header() {
			for _, v := range vs {
				if strings.Contains(v, key) {
					h.t.Errorf("response header %s holds a Metabase session key: %s", k, v)
				}
			}
		}
	}
}

// sealedCookie returns the value of the tenantgate_sso cookie w sets.
func sealedCookie(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == ssoCookieName {
			return c.Value
		}
	}
	t.Fatalf("no %s cookie set; headers %v", ssoCookieName, w.Header())
	return ""
}

// signIn runs the interactive sign-in for sess and returns the sealed cookie.
func (h *harness) signIn(sess, returnTo string) string {
	h.t.Helper()
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso?return_to="+url.QueryEscape(returnTo), sess, nil, "")
	if w.Code != http.StatusFound {
		h.t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	return sealedCookie(h.t, w)
}

// sdkSignIn runs the SDK handshake (JWT provider, then /auth/sso) for sess
// and returns the session handle.
func (h *harness) sdkSignIn(sess string) string {
	h.t.Helper()
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sdk/jwt?response=json", sess, nil, "")
	if w.Code != http.StatusOK {
		h.t.Fatalf("JWT provider: %d %s", w.Code, w.Body)
	}
	var tk struct{ JWT string }
	if err := json.Unmarshal(w.Body.Bytes(), &tk); err != nil || tk.JWT == "" {
		h.t.Fatalf("JWT provider answer %s: %v", w.Body, err)
	}
	w = h.send("GET", testSSOPrefix+"/auth/sso?jwt="+url.QueryEscape(tk.JWT), sess, http.Header{"X-Metabase-Client": {sdkClient}}, "")
	if w.Code != http.StatusOK {
		h.t.Fatalf("SDK /auth/sso: %d %s", w.Code, w.Body)
	}
	var s struct {
		Status string
		ID     string
		Exp    int64
	}
	if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil || s.Status != "ok" || s.ID == "" || s.Exp == 0 {
		h.t.Fatalf("SDK session %s: %v", w.Body, err)
	}
	return s.ID
}

func cookieHeader(sealed string) http.Header {
	return http.Header{"Cookie": {ssoCookieName + "=" + sealed}}
}

func sdkHeader(handle string) http.Header {
	return http.Header{"X-Metabase-Session": {handle}, "X-Metabase-Client": {sdkClient}}
}

// queryRows decodes a streamed query result's rows.
func queryRows(t *testing.T, w *httptest.ResponseRecorder) [][]any {
	t.Helper()
	var res struct {
		Data struct {
			Rows [][]any `json:"rows"`
		} `json:"data"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Status != "completed" {
		t.Fatalf("query result %.300s: %v", w.Body, err)
	}
	return res.Data.Rows
}
