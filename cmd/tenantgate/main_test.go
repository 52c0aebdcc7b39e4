package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDemo runs `tenantgate demo` as README tells a newcomer to, signs in
// as people of two organizations and checks what each one sees.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	baseCh := make(chan string, 1)
	done := make(chan error, 1)
	var out syncBuffer // the demo writes its terminal lines while the test reads
	go func() { done <- runDemo(ctx, "127.0.0.1:0", &out, func(b string) { baseCh <- b }) }()
	var base string
	select {
	case base = <-baseCh:
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	}()
	if !strings.Contains(out.String(), base+"/") {
		t.Errorf("demo did not print the URL to open:\n%s", out.String())
	}

	signIn := func(user string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := c.PostForm(base+"/login", url.Values{"user": {user}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c
	}
	get := func(c *http.Client, path string) (*http.Response, string) {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	alice := signIn("alice")
	if _, home := get(alice, "/"); !strings.Contains(home, `<iframe id="embed" src="/analytics/.tenantgate/embed/dashboard/1">`) {
		t.Fatalf("home page has no embed:\n%s", home)
	}
	resp, page := get(alice, "/analytics/.tenantgate/embed/dashboard/1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<script") {
		t.Fatalf("embed page: %d", resp.StatusCode)
	}
	handle := strings.TrimPrefix(resp.Request.URL.Path, "/analytics/embed/dashboard/")
	resp, body := get(alice, "/analytics/api/embed/dashboard/"+handle+"/dashcard/11/card/1")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dashcard: %d %s", resp.StatusCode, body)
	}
	var q struct {
		Data struct{ Rows [][]any } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &q); err != nil || len(q.Data.Rows) == 0 {
		t.Fatalf("dashcard rows: %v %s", err, body)
	}
	for _, row := range q.Data.Rows {
		if row[1] != "acme" {
			t.Errorf("alice sees a row of %v", row[1])
		}
	}

	bob := signIn("bob")
	if resp, body := get(bob, "/analytics/api/embed/dashboard/"+handle+"/dashcard/11/card/1"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "tenant-mismatch") {
		t.Errorf("bob with alice's handle: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(bob, "/analytics/.tenantgate/embed/dashboard/2"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "resource-unsafe") {
		t.Errorf("the leaky dashboard: %d %s, want the audit guard's resource-unsafe", resp.StatusCode, body)
	}
	if _, act := get(bob, "/demo/activity"); !strings.Contains(act, `"reason":"tenant-mismatch"`) || !strings.Contains(act, `"route":"mint"`) {
		t.Errorf("the activity panel does not show the gate's decisions: %.500s", act)
	} else if !strings.Contains(act, "All orders count") {
		t.Errorf("the activity panel does not name the leaky dashboard's unwired card: %.800s", act)
	}
	// A person following a link to the gate's root gets a page, not JSON.
	req, _ := http.NewRequest(http.MethodGet, base+"/analytics/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if resp, err := bob.Do(req); err != nil {
		t.Fatal(err)
	} else {
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(page), "Analytics unavailable") {
			t.Errorf("/analytics/ in a browser: %s %.200s", ct, page)
		}
	}
	if strings.Contains(out.String(), `{"level"`) {
		t.Errorf("the demo's terminal shows JSON log lines:\n%.500s", out.String())
	}
	mallory := signIn("mallory")
	if resp, body := get(mallory, "/analytics/.tenantgate/embed/dashboard/1"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "tenant-missing") {
		t.Errorf("mallory: %d %s", resp.StatusCode, body)
	}
	// Refused for her missing organization, she is still named: her
	// session verified, so the activity panel says who it was.
	if _, act := get(mallory, "/demo/activity"); !strings.Contains(act, `"reason":"tenant-missing"`) || !strings.Contains(act, `"subject":"mallory"`) {
		t.Errorf("the activity panel does not name the refused mallory: %.600s", act)
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	t.Setenv("TENANTGATE_CONFIG", "")
	for _, k := range []string{"METABASE_SITE_URL", "MB_EMBEDDING_SECRET_KEY", "TENANTGATE_HANDLE_SECRET", "TENANTGATE_SESSION_JWT_SECRET"} {
		t.Setenv(k, "")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code = %d, want 1", code)
	}
	for _, want := range []string{"METABASE_SITE_URL", "MB_EMBEDDING_SECRET_KEY", "TENANTGATE_HANDLE_SECRET"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("check-config output lacks %s:\n%s", want, stderr.String())
		}
	}
	t.Setenv("METABASE_SITE_URL", "http://metabase:3000")
	t.Setenv("MB_EMBEDDING_SECRET_KEY", strings.Repeat("ab", 32))
	t.Setenv("TENANTGATE_HANDLE_SECRET", strings.Repeat("h", 40))
	t.Setenv("TENANTGATE_SESSION_JWT_SECRET", strings.Repeat("s", 40))
	stderr.Reset()
	if code := run([]string{"check-config"}, &stdout, &stderr); code != 0 {
		t.Errorf("valid config: exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"serve", "--config", "/does/not/exist.yaml"}, &stdout, &stderr); code != 1 {
		t.Errorf("serve with a missing config file: exit %d, want 1", code)
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"version"}, &stdout, io.Discard); code != 0 || !strings.HasPrefix(stdout.String(), "tenantgate dev") {
		t.Errorf("version: %d %q", code, stdout.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
