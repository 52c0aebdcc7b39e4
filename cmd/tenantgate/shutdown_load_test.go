package main

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestShutdownUnderLoad: SIGTERM while 8 clients keep sending card
// queries (each streamed for ~100ms by Metabase; merging off, so each is
// its own upstream request). No request the gate
// accepted is lost: every request Metabase received (by its X-Request-Id)
// reached its client as a complete 202, and every client failure is a
// connection the gate never accepted (refused once it stopped listening).
func TestShutdownUnderLoad(t *testing.T) {
	g := startGate(t, map[string]string{"TENANTGATE_TRUSTED_PROXIES": "127.0.0.1", "TENANTGATE_DISABLE_QUERY_MERGING": "true"})
	g.mb.cur.Load().SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		for i := range 5 {
			_, _ = io.WriteString(w, `{"row":`+strconv.Itoa(i)+"}\n")
			_ = http.NewResponseController(w).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		return true
	})
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	handle := g.mint(&http.Client{Timeout: 5 * time.Second}, sess)

	var (
		mu        sync.Mutex
		completed = map[string]bool{}
		refused   atomic.Int64
		lost      []string
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	stopAt := time.Now().Add(5 * time.Second)
	for range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for time.Now().Before(stopAt) {
				id := "load-" + strconv.FormatInt(next.Add(1), 10)
				req, _ := http.NewRequest("GET", g.base+queryPath(handle), nil)
				req.Header.Set("Authorization", "Bearer "+sess)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					if errors.Is(err, syscall.ECONNREFUSED) {
						refused.Add(1)
						return // the gate has stopped listening
					}
					mu.Lock()
					lost = append(lost, id+": "+err.Error())
					mu.Unlock()
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if err != nil || resp.StatusCode != http.StatusAccepted || len(body) != 5*len("{\"row\":0}\n") {
					lost = append(lost, id+": "+resp.Status+" "+string(body))
				} else {
					completed[id] = true
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(400 * time.Millisecond)
	if err := g.stop(); err != nil { // SIGTERM with requests in flight
		t.Errorf("runGate = %v, want a clean drain", err)
	}
	wg.Wait()

	received := 0
	for _, r := range g.mb.cur.Load().Requests() {
		if id := r.Header.Get("X-Request-Id"); id != "" && r.Token != "" {
			received++
			if !completed[id] {
				t.Errorf("request %s reached Metabase but not its client complete", id)
			}
		}
	}
	for _, l := range lost {
		t.Errorf("lost: %s", l)
	}
	if received < 10 {
		t.Errorf("only %d requests reached Metabase before shutdown", received)
	}
	t.Logf("shutdown under load: %d requests accepted and completed, %d clients refused after the listener closed, %d lost",
		len(completed), refused.Load(), len(lost))
}
