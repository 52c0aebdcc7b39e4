package proxy

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
)

// accessCase is one request as record sees it.
type accessCase struct {
	name, method, path, rid, route string
	status                         int
	bytes                          int64
	d                              time.Duration
	id                             *auth.Identity
	reason                         policy.Reason
}

var accessCases = []accessCase{
	{name: "embed query", method: "GET", path: "/api/embed/dashboard/eyJhbGciOiJIUzI1NiJ9.eyJyZXNvdXJjZSI6MX0.c2lnbmF0dXJlLWhlcmUtMTIzNDU2Nzg/dashcard/11/card/1",
		rid: "abc-1", route: routeEmbedAPI, status: 202, bytes: 20480, d: 1234 * time.Microsecond,
		id: &auth.Identity{Tenant: "acme", Subject: "alice"}},
	{name: "refused, reason", method: "POST", path: "/api/card/1/query", rid: "abc-2", route: routeUnmatched, status: 403,
		d: 3 * time.Microsecond, reason: policy.ReasonMalformedRequest},
	{name: "tenant needs escapes", method: "GET", path: "/app/dist/main.js", rid: "r\"\\\n\r\t\x01\x1f",
		route: routeStatic, status: 200, bytes: 1, d: time.Second,
		id: &auth.Identity{Tenant: "ac\"me\\\x00\u2028é\xff\xfe<&>", Subject: "s\tub\x7f日本"}, reason: "tenant-mismatch"},
	{name: "public uuid and long segment", method: "GET", path: "/public/dashboard/1b7c2d3e-4f50-6172-8394-a5b6c7d8e9f0/x",
		rid: "3", route: routeGeoJSON, status: 404, id: &auth.Identity{Tenant: "", Subject: ""}},
	{name: "jws tail with escapes", method: "GET", path: "/api/embed/card/a.b.c\"d\\e\x02f\xc3\xa9g\xe2\x82h/query",
		rid: "4", route: routeEmbedAPI, status: 400},
	{name: "escaped and odd path", method: "M\xffX", path: "/a%2F..;/b\\c//\x00" + strings.Repeat("z", 19) + "/" + strings.Repeat("y", 20),
		rid: strings.Repeat("q", 128), route: routeUnmatched, status: 400, bytes: -1, d: -time.Millisecond},
	{name: "empty path", method: "GET", path: "", rid: "", route: "", status: 200},
}

// TestAccessLineMatchesZap: the access line record appends straight into
// the buffer is byte for byte the line zap writes for the same fields.
func TestAccessLineMatchesZap(t *testing.T) {
	at := time.Date(2026, 11, 26, 23, 10, 5, 123456789, time.UTC)
	var direct, viaZap bytes.Buffer
	fast, closeFast, err := NewLogger(configs.LogConfig{Level: "info"}, nopSync{&direct})
	if err != nil {
		t.Fatal(err)
	}
	ac, ok := fast.Core().(*accessCore)
	if !ok {
		t.Fatalf("NewLogger without sampling: core is %T, want *accessCore", fast.Core())
	}
	ac.now = func() time.Time { return at }
	slowBase, closeSlow, err := NewLogger(configs.LogConfig{Level: "info"}, nopSync{&viaZap})
	if err != nil {
		t.Fatal(err)
	}
	slow := zap.New(slowBase.Core().(*accessCore).Core, zap.WithClock(fixedClock{at}))
	m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{})
	for _, tc := range accessCases {
		for _, g := range []*Gate{{metrics: m, log: fast}, {metrics: m, log: slow}} {
			r := httptest.NewRequest("GET", "/", nil)
			r.Method = tc.method
			s := &scope{requestID: tc.rid, route: tc.route, escPath: tc.path, identity: tc.id}
			if tc.reason != "" {
				s.decided, s.decision = true, policy.Decision{Reason: tc.reason}
			}
			g.record(r, &statusWriter{ResponseWriter: httptest.NewRecorder(), status: tc.status, bytes: tc.bytes}, s, tc.d, time.Time{}, nil)
		}
	}
	if err := closeFast(); err != nil {
		t.Fatal(err)
	}
	if err := closeSlow(); err != nil {
		t.Fatal(err)
	}
	got, want := strings.Split(direct.String(), "\n"), strings.Split(viaZap.String(), "\n")
	if len(got) != len(accessCases)+1 || len(want) != len(got) {
		t.Fatalf("got %d lines direct and %d through zap, want %d", len(got)-1, len(want)-1, len(accessCases))
	}
	for i, tc := range accessCases {
		if got[i] != want[i] {
			t.Errorf("%s:\n direct %s\n zap    %s", tc.name, got[i], want[i])
		}
	}
	if !strings.Contains(want[0], `"path":"/api/embed/dashboard/~zNDU2Nzg/dashcard/11/card/1"`) {
		t.Errorf("the embed token is not redacted: %s", want[0])
	}
}

// TestAccessLineNoAllocation: a request's access line costs no allocation
// (zap's entry and encoder cost one and about 9,000 instructions).
func TestAccessLineNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	log, closeLog, err := NewLogger(configs.LogConfig{Level: "info"}, nopSync{&bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	g := &Gate{metrics: metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{}), log: log}
	tc := accessCases[0]
	r := httptest.NewRequest(tc.method, tc.path, nil)
	s := &scope{requestID: tc.rid, route: tc.route, escPath: tc.path, identity: tc.id}
	sw := &statusWriter{ResponseWriter: httptest.NewRecorder(), status: 200}
	if n := testing.AllocsPerRun(100, func() { g.record(r, sw, s, time.Millisecond, time.Now(), nil) }); n != 0 {
		t.Errorf("record allocates %.0f times per request, want 0", n)
	}
}

// TestSamplingKeepsZap: with sampling on, access lines go through zap's
// sampler, not straight into the buffer.
func TestSamplingKeepsZap(t *testing.T) {
	log, closeLog, err := NewLogger(configs.LogConfig{Level: "info", Sampling: true}, nopSync{&bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	if _, ok := log.Core().(*accessCore); ok {
		t.Errorf("sampling on: access lines would bypass the sampler")
	}
}

type nopSync struct{ *bytes.Buffer }

func (nopSync) Sync() error { return nil }

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// FuzzAccessLine: for any request id, method, path, tenant, subject and
// reason, the appended access line is the one zap's encoder writes.
func FuzzAccessLine(f *testing.F) {
	for _, tc := range accessCases {
		ten, sub := "", ""
		if tc.id != nil {
			ten, sub = tc.id.Tenant, tc.id.Subject
		}
		f.Add(tc.rid, tc.method, tc.path, ten, sub, string(tc.reason), tc.status, tc.bytes, int64(1764630605123))
	}
	f.Add("", "", "", "", "", "", 0, int64(0), int64(-1))
	f.Add("", "", "", "", "", "", 0, int64(0), int64(999))
	enc := newJSONEncoder()
	f.Fuzz(func(t *testing.T, rid, method, path, tenant, subject, reason string, status int, n, ms int64) {
		// Any millisecond from 1900 to 9999 (zap writes other years alike,
		// but they are not times a log line has).
		const lo, hi = -2208988800000, 253402300799999
		ms = lo + (ms%(hi-lo)+(hi-lo))%(hi-lo)
		at := time.UnixMilli(ms)
		hasID := tenant != "" || subject != ""
		fields := []zap.Field{zap.String("request_id", rid), zap.String("route", routeEmbedAPI), zap.String("method", method),
			zap.String("path", redactPath(path)), zap.Int("status", status), zap.Int64("bytes", n), zap.Int64("duration_us", n/3)}
		if hasID {
			fields = append(fields, zap.String("tenant", tenant), zap.String("subject", subject))
		}
		if reason != "" {
			fields = append(fields, zap.String("reason", reason))
		}
		want, err := enc.EncodeEntry(zapcore.Entry{Level: zapcore.InfoLevel, Time: at, Message: "request"}, fields)
		if err != nil {
			t.Fatal(err)
		}
		got := appendAccessLine(nil, at, rid, routeEmbedAPI, method, policy.ScanPath(path), status, n, n/3, hasID, tenant, subject, reason)
		if string(got) != want.String() {
			t.Errorf("direct %s\nzap    %s", got, want.String())
		}
	})
}
