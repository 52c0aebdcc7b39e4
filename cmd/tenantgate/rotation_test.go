package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// outcome is one request of a load loop: when it ran and what it got.
type outcome struct {
	start, end time.Time
	code       int
	reason     string
}

// inFlight keeps 4 clients requesting what next() names (path, session)
// until stop, which returns every outcome.
func inFlight(g *liveGate, next func() (string, string)) (stop func() []outcome) {
	var (
		mu   sync.Mutex
		outs []outcome
		quit atomic.Bool
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for !quit.Load() {
				path, sess := next()
				o := outcome{start: time.Now()}
				o.code, o.reason, _ = g.get(client, path, sess)
				o.end = time.Now()
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		})
	}
	return func() []outcome {
		time.Sleep(50 * time.Millisecond) // some requests after the last step
		quit.Store(true)
		wg.Wait()
		return outs
	}
}

// allServed fails for every outcome that is not Metabase's 202.
func allServed(t *testing.T, what string, outs []outcome) {
	t.Helper()
	bad := 0
	for _, o := range outs {
		if o.code != http.StatusAccepted {
			if bad++; bad <= 3 {
				t.Errorf("%s: a request in flight got %d %s", what, o.code, o.reason)
			}
		}
	}
	if len(outs) < 10 {
		t.Errorf("%s: only %d requests ran", what, len(outs))
	}
	t.Logf("%s: %d requests in flight across the rotation, %d failed", what, len(outs), bad)
}

func kidOf(t *testing.T, jws string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(h, &m)
	kid, _ := m["kid"].(string)
	return kid
}

// TestRotateHandleKey walks TENANTGATE_HANDLE_SECRET=old → new,old → new
// with embeds in flight: during the overlap old handles keep working and
// new ones are signed with the new key; once the old key is dropped, its
// handles are refused (handle-invalid) and the new ones never blink.
func TestRotateHandleKey(t *testing.T) {
	g := startGate(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	hOld := g.mint(client, sess)

	stop := inFlight(g, func() (string, string) { return queryPath(hOld), sess })
	g.reload(map[string]string{"TENANTGATE_HANDLE_SECRET": hKeyNew + "," + hKeyOld})
	hNew := g.mint(client, sess)
	allServed(t, "old handle, new,old", stop())
	if kidOf(t, hNew) == kidOf(t, hOld) {
		t.Errorf("the handle minted after the rotation has the old kid %s", kidOf(t, hOld))
	}

	stop = inFlight(g, func() (string, string) { return queryPath(hNew), sess })
	g.reload(map[string]string{"TENANTGATE_HANDLE_SECRET": hKeyNew})
	allServed(t, "new handle, new", stop())
	if code, reason, _ := g.get(client, queryPath(hOld), sess); code != http.StatusForbidden || reason != "handle-invalid" {
		t.Errorf("old handle after its key was dropped: %d %s, want 403 handle-invalid", code, reason)
	}
}

// TestRotateSessionKey walks TENANTGATE_SESSION_JWT_SECRET=old → new,old,
// the app switches to new, → new: sessions of either key verify during
// the overlap, the browser's handle stays valid with its new session, and
// once old is dropped its sessions get 401 session-invalid.
func TestRotateSessionKey(t *testing.T) {
	g := startGate(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}
	oldSess := sessionToken(t, sessKeyOld, "alice", "acme")
	newSess := sessionToken(t, sessKeyNew, "alice", "acme")
	handle := g.mint(client, oldSess)

	stop := inFlight(g, func() (string, string) { return queryPath(handle), oldSess })
	g.reload(map[string]string{"TENANTGATE_SESSION_JWT_SECRET": sessKeyNew + "," + sessKeyOld})
	allServed(t, "old session, new,old", stop())

	var n atomic.Int64 // the app signs new sessions with the new key; old ones still arrive
	stop = inFlight(g, func() (string, string) {
		if n.Add(1)%2 == 0 {
			return queryPath(handle), oldSess
		}
		return queryPath(handle), newSess
	})
	time.Sleep(100 * time.Millisecond)
	allServed(t, "both sessions during the overlap", stop())

	stop = inFlight(g, func() (string, string) { return queryPath(handle), newSess })
	g.reload(map[string]string{"TENANTGATE_SESSION_JWT_SECRET": sessKeyNew})
	allServed(t, "new session, new", stop())
	if code, reason, _ := g.get(client, queryPath(handle), oldSess); code != http.StatusUnauthorized || reason != "session-invalid" {
		t.Errorf("old session after its key was dropped: %d %s, want 401 session-invalid", code, reason)
	}
}

// TestRotateMetabaseSecret: Metabase's embedding secret changes (Metabase
// restarted with key B) and the gate is reloaded with B right after. The
// browser keeps its handle; every request that started after the reload
// succeeds and reached Metabase signed with B; the only failures are
// requests caught between Metabase's change and the gate's reload, which
// Metabase refuses (it accepts one key at a time).
func TestRotateMetabaseSecret(t *testing.T) {
	g := startGate(t, nil)
	client := &http.Client{Timeout: 5 * time.Second}
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	handle := g.mint(client, sess)

	stop := inFlight(g, func() (string, string) { return queryPath(handle), sess })
	time.Sleep(50 * time.Millisecond)
	mbB := metabasetest.New(metabasetest.Options{SecretKey: mbKeyB})
	swappedAt := time.Now()
	g.mb.cur.Store(mbB)
	g.reload(map[string]string{"MB_EMBEDDING_SECRET_KEY": mbKeyB})
	reloadedAt := time.Now()
	outs := stop()

	after, window := 0, 0
	for _, o := range outs {
		switch {
		case o.end.Before(swappedAt) || o.start.After(reloadedAt):
			if o.code != http.StatusAccepted {
				t.Errorf("request outside the switch-over got %d %s", o.code, o.reason)
			}
			if o.start.After(reloadedAt) {
				after++
			}
		case o.code != http.StatusAccepted:
			window++
		}
	}
	if after == 0 {
		t.Error("no request ran after the reload")
	}
	t.Logf("%d requests in flight; %d after the reload all served; %d failed in the %s between Metabase's change and the reload",
		len(outs), after, window, reloadedAt.Sub(swappedAt).Round(time.Millisecond))
	signedB := 0
	for _, r := range mbB.Requests() {
		if r.Claims != nil {
			signedB++
		}
	}
	if signedB == 0 {
		t.Error("Metabase with key B never received a token signed with B")
	}
	if code, reason, _ := g.get(client, queryPath(handle), sess); code != http.StatusAccepted {
		t.Errorf("the browser's handle after the rotation: %d %s, want 202", code, reason)
	}
}
