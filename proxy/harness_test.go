package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

const (
	testMBKey      = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	testSessionKey = "session-key-0123456789abcdef0123456789abcdef"
	testHandleKey  = "handle-key-0123456789abcdef0123456789abcdef"
	// testMBAPIKey is the stand-in's admin API key; a config with it turns
	// the audit guard on.
	testMBAPIKey = "mb_R2F0ZUd1YXJkVGVzdEtleTAxMjM0NTY="
)

// harness is a gate in front of the Metabase stand-in, both real HTTP
// servers, with the gate's logs and metrics captured.
type harness struct {
	t     *testing.T
	mb    *metabasetest.Server
	mbSrv *httptest.Server
	cfg   *configs.Config
	stack *Stack
	gate  *httptest.Server
	logs  *observer.ObservedLogs
	reg   *prometheus.Registry
}

func newHarness(t *testing.T, tweak func(*configs.Config)) *harness {
	t.Helper()
	h := &harness{t: t, mb: metabasetest.New(metabasetest.Options{SecretKey: testMBKey, APIKey: testMBAPIKey})}
	h.mbSrv = httptest.NewServer(h.mb)
	t.Cleanup(h.mbSrv.Close)
	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = h.mbSrv.URL
	cfg.Metabase.EmbeddingSecretKey = testMBKey
	cfg.Session.JWTSecrets = []configs.Secret{testSessionKey}
	cfg.Handles.Secrets = []configs.Secret{testHandleKey}
	cfg.FrameAncestors = []string{"'self'"}
	cfg.ApplyDefaults()
	if tweak != nil {
		tweak(cfg)
	}
	h.start(cfg)
	return h
}

// start validates cfg and builds the gate in front of h.mb, with its logs
// and metrics captured.
func (h *harness) start(cfg *configs.Config) {
	h.t.Helper()
	if err := cfg.Validate(configs.ModeServe); err != nil {
		h.t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	h.reg = prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := Build(ctx, cfg, zap.New(core), h.reg, metrics.BuildInfo{Version: "test"})
	if err != nil {
		h.t.Fatalf("Build: %v", err)
	}
	h.stack = st
	h.gate = httptest.NewServer(st.Gate)
	h.t.Cleanup(func() { h.gate.Close(); st.Close(); cancel() })
}

// session signs an app session JWT for subject in tenant ("" = no tenant).
func session(subject, tenant string, ttl time.Duration) string {
	claims := jwt.MapClaims{"sub": subject, "email": subject + "@example.com", "exp": time.Now().Add(ttl).Unix()}
	if tenant != "" {
		claims["organization_id"] = tenant
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSessionKey))
	if err != nil {
		panic(err)
	}
	return s
}

// do sends a request through the gate in process (so paths arrive exactly
// as written, dot segments and all) with the session cookie, if any.
func (h *harness) do(method, target, sess string, hdr http.Header) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	if sess != "" {
		r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
	}
	w := httptest.NewRecorder()
	h.stack.Gate.ServeHTTP(w, r)
	return w
}

// mint gets an embed URL for the caller and returns the handle in it.
func (h *harness) mint(sess, kind string, id int) string {
	h.t.Helper()
	w := h.do("GET", h.cfg.PublicPrefix+"/.tenantgate/embed/"+kind+"/"+strconv.Itoa(id), sess, http.Header{"Accept": {"application/json"}})
	if w.Code != http.StatusOK {
		h.t.Fatalf("mint %s/%d: %d %s", kind, id, w.Code, w.Body)
	}
	var m struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("mint answer: %v", err)
	}
	rest := strings.TrimPrefix(m.URL, h.cfg.PublicPrefix+"/embed/"+kind+"/")
	return rest[:strings.IndexByte(rest, '#')]
}

// reason reads the reason code of a JSON denial.
func reason(w *httptest.ResponseRecorder) string {
	var e errorBody
	if json.Unmarshal(w.Body.Bytes(), &e) == nil && e.Reason != "" {
		return e.Reason
	}
	// HTML denial pages carry the reason too.
	if i := strings.Index(w.Body.String(), "reason: "); i >= 0 {
		r := w.Body.String()[i+len("reason: "):]
		return r[:strings.IndexAny(r, " <")]
	}
	return ""
}
