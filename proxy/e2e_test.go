package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

type dashboardJSON struct {
	Name      string `json:"name"`
	Dashcards []struct {
		ID     int  `json:"id"`
		CardID *int `json:"card_id"`
	} `json:"dashcards"`
}

type queryJSON struct {
	Status string `json:"status"`
	Data   struct {
		Cols []struct {
			Name string `json:"name"`
		} `json:"cols"`
		Rows [][]any `json:"rows"`
	} `json:"data"`
}

// TestEndToEndTenantIsolation walks what a customer's browser does: mint,
// load the page, the dashboard and every card, and sees only its own rows;
// the same handle under another organization's session is refused before
// Metabase sees it.
func TestEndToEndTenantIsolation(t *testing.T) {
	h := newHarness(t, nil)
	acme := session("alice", "acme", time.Hour)
	globex := session("bob", "globex", time.Hour)

	handle := h.mint(acme, "dashboard", metabasetest.DashboardOrders)

	page := h.do("GET", "/embed/dashboard/"+handle, acme, nil)
	if page.Code != http.StatusOK || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", page.Code, page.Header().Get("Content-Type"))
	}
	if got := page.Header().Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'self'") || strings.Contains(got, "frame-ancestors *") {
		t.Errorf("page CSP = %q, want frame-ancestors narrowed to 'self'", got)
	}

	w := h.do("GET", "/api/embed/dashboard/"+handle, acme, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("dashboard: %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "private, no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	var d dashboardJSON
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	cards := 0
	for _, dc := range d.Dashcards {
		if dc.CardID == nil {
			continue
		}
		cards++
		path := "/api/embed/dashboard/" + handle + "/dashcard/" + strconv.Itoa(dc.ID) + "/card/" + strconv.Itoa(*dc.CardID)
		w := h.do("GET", path, acme, nil)
		if w.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		var q queryJSON
		if err := json.Unmarshal(w.Body.Bytes(), &q); err != nil {
			t.Fatalf("query body: %v", err)
		}
		org := -1
		for i, c := range q.Data.Cols {
			if c.Name == "organization_id" {
				org = i
			}
		}
		for _, row := range q.Data.Rows {
			if org >= 0 && row[org] != "acme" {
				t.Errorf("dashcard %d returned a row of %v", dc.ID, row[org])
			}
		}
	}
	if cards == 0 {
		t.Fatal("dashboard has no cards to query")
	}

	// Everything Metabase received was signed for acme, with a token that
	// is not the handle the browser holds.
	for _, r := range h.mb.Requests() {
		if r.Token == "" {
			continue
		}
		if r.Token == handle {
			t.Errorf("Metabase received the handle itself at %s", r.Path)
		}
		if r.Path != "/embed/dashboard/"+r.Token && r.Claims == nil {
			t.Errorf("Metabase received an unverifiable token at %s", r.Path)
			continue
		}
		if r.Claims != nil {
			params, _ := r.Claims["params"].(map[string]any)
			if params["organization_id"] != "acme" {
				t.Errorf("Metabase saw organization_id %v at %s", params["organization_id"], r.Path)
			}
		}
	}

	// The same handle under globex's session: refused, Metabase sees nothing.
	h.mb.Reset()
	for _, path := range []string{
		"/embed/dashboard/" + handle,
		"/api/embed/dashboard/" + handle,
		"/api/embed/dashboard/" + handle + "/dashcard/11/card/1",
	} {
		w := h.do("GET", path, globex, nil)
		if w.Code != http.StatusForbidden || reason(w) != "tenant-mismatch" {
			t.Errorf("%s as globex: %d %q, want 403 tenant-mismatch", path, w.Code, reason(w))
		}
	}
	if n := len(h.mb.Requests()); n != 0 {
		t.Errorf("Metabase received %d requests for a refused handle", n)
	}
}

// TestOwnRowsOnly compares every tenant's dashcard rows with the dataset.
func TestOwnRowsOnly(t *testing.T) {
	h := newHarness(t, nil)
	for _, tenant := range metabasetest.Tenants {
		sess := session("user-"+tenant, tenant, time.Hour)
		handle := h.mint(sess, "question", metabasetest.QuestionOrders)
		w := h.do("GET", "/api/embed/card/"+handle+"/query", sess, nil)
		if w.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", tenant, w.Code, w.Body)
		}
		var q queryJSON
		_ = json.Unmarshal(w.Body.Bytes(), &q)
		want := 0
		for _, o := range metabasetest.Orders() {
			if o.OrganizationID == tenant {
				want++
			}
		}
		if len(q.Data.Rows) != want || want == 0 {
			t.Errorf("%s sees %d rows, want its own %d", tenant, len(q.Data.Rows), want)
		}
	}
}
