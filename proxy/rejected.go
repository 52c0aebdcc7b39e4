package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/metrics"
)

// A wrong key is the first-day mistake that goes unnoticed: with an
// MB_EMBEDDING_SECRET_KEY that differs from Metabase's, every token the
// gate signs is refused, every chart shows Metabase's raw 400, and the
// decision log says "allowed" (issue 14). So the gate checks its keys
// against Metabase at start and in /readyz (probeKeys), and a refusal at
// run time gets its own reason, log line and metric (rejectedToken).

// msgCorrupt is buddy-sign's message for a signature made with another key,
// which Metabase answers as is: 400 on /api/embed (embedding/jwt.clj, via
// embed/util's unsign), 401 on /auth/sso. It is the one Metabase text the
// gate reads, and only to name the problem: an answer without it passes.
const msgCorrupt = "corrupt or manipulated"

// errUpstreamRejectedToken: Metabase refused a token the gate signed.
var errUpstreamRejectedToken = errors.New("Metabase refused the gate's token as corrupt or manipulated: MB_EMBEDDING_SECRET_KEY differs from Metabase's embedding secret key (Admin settings > Embedding)")

// maxRejectionBody bounds the error body read for the check: Metabase's
// messages are one line.
const maxRejectionBody = 4 << 10

// rejectedToken reads a 400 of /api/embed: when it says the token is
// corrupt or manipulated, the answer is replaced by the gate's own
// (upstream-rejected-token); any other 400 (a parameter rule, not found)
// passes unchanged, body restored.
func (g *Gate) rejectedToken(resp *http.Response) error {
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Encoding") != "" {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRejectionBody))
	if err != nil {
		return fmt.Errorf("reading Metabase's 400: %w", err)
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	if !bytes.Contains(b, []byte(msgCorrupt)) {
		return nil
	}
	g.metrics.RejectedToken(metrics.RejectedEmbed)
	return errUpstreamRejectedToken
}

// keyProbe is the last check of the gate's keys against Metabase, redone
// at most every keyProbeEvery.
type keyProbe struct {
	mu       sync.Mutex
	at       time.Time
	problems map[string]string // check name → problem; absent: ok
}

const keyProbeEvery = 30 * time.Second

// ProbeUserAgent is the User-Agent of the gate's key probes.
const ProbeUserAgent = "tenantgate-key-probe"

// probeKeyID is a dashboard no Metabase has: a token for it that Metabase
// can verify answers "Not found." (or "Embedding is not enabled."), one
// it cannot answers "Message seems corrupt or manipulated". Nothing is
// read or created.
const probeKeyID = 2147483647

// probeKeys asks Metabase whether it accepts the gate's keys: a guest-embed
// token signed with MB_EMBEDDING_SECRET_KEY for a dashboard that does not
// exist, and, with SSO on, an SSO JWT without an email (Metabase verifies
// the signature first, then refuses the missing email without creating a
// user). It returns one line per check ("ok" or the problem).
func (g *Gate) probeKeys(ctx context.Context, client *http.Client) map[string]string {
	p := &g.keys
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.problems != nil && time.Since(p.at) < keyProbeEvery {
		return p.problems
	}
	res := map[string]string{"embedding_secret": g.probeEmbedKey(ctx, client)}
	if g.sso != nil {
		res["jwt_shared_secret"] = g.probeSSOKey(ctx, client)
	}
	p.at, p.problems = time.Now(), res
	return res
}

func (g *Gate) probeEmbedKey(ctx context.Context, client *http.Client) string {
	tok, _, err := g.signer.Sign(auth.Resource{Kind: auth.KindDashboard, ID: probeKeyID}, map[string]any{})
	if err != nil {
		return "signing the probe token: " + err.Error()
	}
	status, body, err := g.probeGet(ctx, client, "/api/embed/dashboard/"+tok, "")
	switch {
	case err != nil:
		return "could not ask Metabase: " + err.Error()
	case status == http.StatusBadRequest && strings.Contains(body, msgCorrupt):
		return "Metabase refuses tokens signed with MB_EMBEDDING_SECRET_KEY (\"Message seems corrupt or manipulated\"): copy the key from Metabase (Admin settings > Embedding) unchanged"
	case status == http.StatusBadRequest && strings.Contains(body, "secret key has not been set"):
		return "Metabase has no embedding secret key: set it in Admin settings > Embedding, the same as MB_EMBEDDING_SECRET_KEY"
	case status == http.StatusBadRequest && strings.Contains(body, "Embedding is not enabled."):
		return "static (guest) embedding is off in Metabase: turn it on in Admin settings > Embedding"
	case status == http.StatusBadRequest:
		return "ok" // verified, then "Not found." (or another object check)
	}
	return fmt.Sprintf("Metabase answered %d to the embedding key probe, not 400 \"Not found.\": the key is unverified", status)
}

func (g *Gate) probeSSOKey(ctx context.Context, client *http.Client) string {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "tenantgate-key-probe",
	}).SignedString([]byte(g.cfg.SSO.JWTSharedSecret.Reveal()))
	if err != nil {
		return "signing the probe JWT: " + err.Error()
	}
	status, body, err := g.probeGet(ctx, client, "/auth/sso", url.Values{"jwt": {tok}}.Encode())
	switch {
	case err != nil:
		return "could not ask Metabase: " + err.Error()
	case status == http.StatusUnauthorized && strings.Contains(body, msgCorrupt):
		return "Metabase refuses SSO JWTs signed with MB_JWT_SHARED_SECRET (\"Message seems corrupt or manipulated\"): copy the key from Metabase (Admin settings > Authentication > JWT) unchanged"
	case status == http.StatusUnauthorized && strings.Contains(body, "missing email"):
		return "ok" // verified, then refused for the email it lacks
	case strings.Contains(body, "SSO has not been enabled"):
		return "JWT SSO is off in Metabase: turn it on in Admin settings > Authentication > JWT"
	}
	return fmt.Sprintf("Metabase answered %d to the SSO key probe, not 401 \"JWT token missing email claim\": the key is unverified", status)
}

// CheckKeys runs the key probe once at start and logs each problem: a
// wrong key is said loudly when the gate starts, and /readyz keeps saying
// it (and fails) until it is fixed. A Metabase still starting is no
// problem here: /readyz asks again.
func (g *Gate) CheckKeys(ctx context.Context, log *zap.Logger) {
	if g.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for check, problem := range g.probeKeys(ctx, g.admin.client) {
		if problem != "ok" {
			log.Error("Metabase does not accept the gate's key; /readyz fails until it does", zap.String("check", check), zap.String("problem", problem))
		}
	}
}

// probeGet GETs path?query on Metabase and returns the status and the
// start of the body. Errors never quote the URL (it holds the probe token).
func (g *Gate) probeGet(ctx context.Context, client *http.Client, path, query string) (int, string, error) {
	u := *g.upstream
	u.Path, u.RawPath, u.RawQuery = g.upPath+path, "", query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", errors.New("building the probe request")
	}
	// Named, so that Metabase's log (and a test's record) tells the probe
	// from a browser's request.
	req.Header.Set("User-Agent", ProbeUserAgent)
	// The host forwarded requests carry: a Metabase without MB_SITE_URL
	// takes its site URL from its first request, this one perhaps.
	req.Header["X-Forwarded-Host"] = g.fw.host
	if g.fw.proto != nil {
		req.Header["X-Forwarded-Proto"] = g.fw.proto
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRejectionBody))
	return resp.StatusCode, string(b), nil
}
