package proxy

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
)

// Explanation is what the gate would do with one request.
type Explanation struct {
	// Target is the request path the gate was given: below the public
	// prefix, which Explain adds when the path lacks it.
	Target   string `json:"target"`
	Status   int    `json:"status"`
	Decision string `json:"decision"` // allow or deny
	Reason   string `json:"reason"`
	Message  string `json:"message,omitempty"`
	Detail   string `json:"detail,omitempty"` // what the log would say
	Route    string `json:"route"`
	// Location is the embed URL a mint answers with; HandleClaims its handle.
	Location     string         `json:"location,omitempty"`
	HandleClaims map[string]any `json:"handle_claims,omitempty"`
	// Upstream is the request Metabase would receive, with the claims of
	// the token the gate would sign; nil when nothing would reach it.
	Upstream *UpstreamCall `json:"upstream,omitempty"`
}

// UpstreamCall is a request the gate would send to Metabase.
type UpstreamCall struct {
	Method      string         `json:"method"`
	Path        string         `json:"path"`
	Query       string         `json:"query,omitempty"`
	TokenClaims map[string]any `json:"token_claims,omitempty"`
}

// Explain runs method target through the real gate (router, policy, token
// work) as the caller authn describes, with a Metabase that is never
// contacted: the would-be upstream request is recorded instead.
func Explain(cfg *configs.Config, authn auth.Authenticator, handles *auth.HandleKeyring, method, target string, hdr http.Header) (*Explanation, error) {
	signer, err := auth.NewEmbedSigner(cfg.Metabase.EmbeddingSecretKey.Reveal(), cfg.Metabase.TokenTTL, 16, nil)
	if err != nil {
		return nil, err
	}
	pol, err := policy.New(cfg)
	if err != nil {
		return nil, err
	}
	core, logs := observer.New(zapcore.DebugLevel)
	rec := &recordingTransport{}
	g, err := New(Options{Config: cfg, Auth: authn, Handles: handles, Signer: signer, Policy: pol,
		Metrics: metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}), Logger: zap.New(core), Transport: rec})
	if err != nil {
		return nil, err
	}
	// A path without the public prefix is taken below it: README's examples
	// and a path copied from the app's side both leave it out, and with the
	// prefix the gate would only answer route-not-allowed.
	if p := strings.TrimSuffix(cfg.PublicPrefix, "/"); p != "" && strings.HasPrefix(target, "/") &&
		target != p && !strings.HasPrefix(target, p+"/") && !strings.HasPrefix(target, p+"?") {
		target = p + target
	}
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)

	ex := &Explanation{Target: target, Status: w.Code, Decision: "allow", Reason: string(policy.ReasonAllowed)}
	for _, e := range logs.All() {
		m := e.ContextMap()
		route, _ := m["route"].(string)
		ex.Route = route
		if e.Message == "denied" {
			ex.Decision = "deny"
			ex.Reason, _ = m["reason"].(string)
			ex.Detail, _ = m["detail"].(string)
			ex.Message = policy.Reason(ex.Reason).Message()
		}
	}
	if loc := w.Header().Get("Location"); loc != "" {
		ex.Location = loc
		ex.HandleClaims = tokenClaims(loc)
	}
	if up := rec.last(); up != nil {
		ex.Upstream = &UpstreamCall{Method: up.Method, Path: up.URL.EscapedPath(), Query: up.URL.RawQuery, TokenClaims: tokenClaims(up.URL.EscapedPath())}
	}
	return ex, nil
}

// tokenClaims decodes (without verifying: the gate signed it) the payload
// of the first JWT-shaped segment of a path or URL.
func tokenClaims(s string) map[string]any {
	if i := strings.IndexAny(s, "#?"); i >= 0 {
		s = s[:i]
	}
	for _, seg := range strings.Split(s, "/") {
		seg = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(seg, ".csv"), ".json"), ".xlsx")
		parts := strings.Split(seg, ".")
		if len(parts) != 3 {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			return m
		}
	}
	return nil
}

// recordingTransport stands for Metabase in Explain: it records the
// request and answers an empty 200.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.reqs = append(t.reqs, r)
	t.mu.Unlock()
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func (t *recordingTransport) last() *http.Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reqs) == 0 {
		return nil
	}
	return t.reqs[len(t.reqs)-1]
}
