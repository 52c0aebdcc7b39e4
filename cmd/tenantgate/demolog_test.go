package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestDemoTerminal: the demo's terminal shows denials as readable lines
// and the audit's verdict once, until it changes; access lines stay off it
// (issue 14: the audit's periodic lines flooded the terminal).
func TestDemoTerminal(t *testing.T) {
	var out bytes.Buffer
	log := zap.New(newDemoTerminal(&out))
	audit := func(unsafe ...string) {
		for _, name := range unsafe {
			log.Warn("audit: resource unsafe, the gate refuses it", zap.String("kind", "dashboard"), zap.Int("id", 2),
				zap.String("name", name), zap.String("findings", "dashcard-not-wired (dashcard 24): card 3 (All orders count) is not wired; tenant-param-missing"))
		}
		log.Info("audit of Metabase done", zap.Int("audited", 6), zap.Int("unsafe", len(unsafe)))
	}
	for i := 0; i < 5; i++ {
		audit("Leaky overview")
	}
	log.Info("request", zap.String("route", "embed_api"), zap.Int("status", 202))
	log.Warn("denied", zap.String("reason", "tenant-mismatch"), zap.String("path", "/analytics/embed/dashboard/[handle:1a2b]"),
		zap.String("detail", "handle of tenant acme"), zap.String("tenant", "globex"), zap.String("subject", "bob"))
	audit()
	got := out.String()
	for _, want := range []string{
		"audit    6 resources audited, 1 refused as unsafe\n          dashboard 2 (Leaky overview): dashcard-not-wired (dashcard 24): card 3 (All orders count) is not wired (and more: tenantgate audit)",
		"denied   tenant-mismatch          /analytics/embed/dashboard/[handle:1a2b] (bob, globex)\n          handle of tenant acme",
		"audit    6 resources audited, 0 refused as unsafe",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "1 refused as unsafe"); n != 1 {
		t.Errorf("the same verdict printed %d times, want once:\n%s", n, got)
	}
	if strings.Contains(got, "{") || strings.Contains(got, "embed_api") {
		t.Errorf("terminal shows JSON or access lines:\n%s", got)
	}
}

// TestActivityKeepsDenialDetail: the activity panel names why, e.g. the
// card a refused dashboard does not wire to the tenant filter.
func TestActivityKeepsDenialDetail(t *testing.T) {
	a := &activityLog{}
	log := zap.New(zapcore.NewTee(a))
	log.Warn("denied", zap.String("request_id", "r1"), zap.String("detail", "card 3 (All orders count) is not wired"))
	log.Info("request", zap.String("request_id", "r1"), zap.String("route", "mint"), zap.Int("status", 403), zap.String("reason", "resource-unsafe"))
	ev := a.snapshot()
	if len(ev) != 1 || ev[0]["detail"] != "card 3 (All orders count) is not wired" || ev[0]["reason"] != "resource-unsafe" {
		t.Errorf("activity = %v", ev)
	}
}
