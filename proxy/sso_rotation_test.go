package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
)

// TestRotateSSOSealingKey walks TENANTGATE_SSO_SEALING_KEY=old → new,old →
// new the way a SIGHUP does (a new gate swapped in while requests are in
// flight, same Metabase): during the overlap sessions sealed with the old
// key keep working and new ones are sealed with the new key; once old is
// dropped, its cookies get 401 sso-session-invalid and the new ones never
// blink. No request ever reaches Metabase with a session it should not.
func TestRotateSSOSealingKey(t *testing.T) {
	const newSeal = "seal-key-new-0123456789abcdef0123456789ab"
	h := newSSOHarness(t, nil)
	build := func(keys ...string) *Stack {
		cfg := *h.cfg
		cfg.SSO.SealingKeys = nil
		for _, k := range keys {
			cfg.SSO.SealingKeys = append(cfg.SSO.SealingKeys, configs.Secret(k))
		}
		if err := cfg.Validate(configs.ModeServe); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		st, err := BuildWith(context.Background(), &cfg, zap.NewNop(), metrics.New(reg, metrics.BuildInfo{}), reg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	var cur atomic.Pointer[Stack]
	cur.Store(h.stack)
	alice := ssoSession("alice", "acme", time.Hour)
	call := func(sealed string) int {
		r := httptest.NewRequest("GET", testSSOPrefix+"/api/user/current", nil)
		r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: alice})
		r.AddCookie(&http.Cookie{Name: ssoCookieName, Value: sealed})
		w := httptest.NewRecorder()
		cur.Load().Gate.ServeHTTP(w, r)
		return w.Code
	}
	// inFlight keeps 4 callers on cookie until stop; it returns the failures.
	inFlight := func(cookie string) (stop func() int) {
		var quit atomic.Bool
		var bad atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !quit.Load() {
					if call(cookie) != http.StatusOK {
						bad.Add(1)
					}
				}
			})
		}
		return func() int {
			time.Sleep(20 * time.Millisecond)
			quit.Store(true)
			wg.Wait()
			return int(bad.Load())
		}
	}

	oldCookie := h.signIn(alice, "/dashboard/1")
	stop := inFlight(oldCookie)
	overlap := build(newSeal, testSealKey)
	cur.Store(overlap)
	if bad := stop(); bad != 0 {
		t.Errorf("old cookie during the overlap: %d requests failed", bad)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", testSSOPrefix+"/.tenantgate/sso?return_to=/dashboard/1", nil)
	r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: alice})
	overlap.Gate.ServeHTTP(w, r)
	newCookie := sealedCookie(t, w)
	if newCookie == oldCookie {
		t.Fatal("the overlap gate sealed with the old key")
	}

	stop = inFlight(newCookie)
	cur.Store(build(newSeal))
	if bad := stop(); bad != 0 {
		t.Errorf("new cookie while the old key is dropped: %d requests failed", bad)
	}
	if code := call(oldCookie); code != http.StatusUnauthorized {
		t.Errorf("old cookie after its key was dropped: %d, want 401", code)
	}
}
