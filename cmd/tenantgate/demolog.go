package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap/zapcore"
)

// demoTerminal is the demo's log on the terminal: one readable line per
// denial and per warning, and the audit's verdict once, then only when it
// changes (the guard re-audits every interval). The JSON lines a real
// deployment writes are what `serve` prints; the demo keeps its banner and
// its denials readable instead (issue 14).
type demoTerminal struct {
	mu        sync.Mutex
	w         io.Writer
	lastAudit string
	unsafe    map[string]string // "kind id" → findings, this audit
}

func newDemoTerminal(w io.Writer) *demoTerminal {
	return &demoTerminal{w: w, unsafe: map[string]string{}}
}

func (d *demoTerminal) Enabled(l zapcore.Level) bool      { return l >= zapcore.InfoLevel }
func (d *demoTerminal) With([]zapcore.Field) zapcore.Core { return d }
func (d *demoTerminal) Sync() error                       { return nil }

func (d *demoTerminal) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	// Access lines ("request") and other info lines are the activity
	// panel's; the terminal gets what a person watching it should see.
	if e.Level >= zapcore.WarnLevel || e.Message == "audit of Metabase done" || e.Message == "tenantgate listening" {
		return ce.AddCore(e, d)
	}
	return ce
}

func (d *demoTerminal) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	str := func(k string) string { return fmt.Sprint(enc.Fields[k]) }
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := e.Time.Format("15:04:05")
	switch {
	case e.Message == "denied":
		who := ""
		if s, ok := enc.Fields["subject"]; ok {
			who = fmt.Sprintf(" (%v, %v)", s, enc.Fields["tenant"])
		}
		fmt.Fprintf(d.w, "%s  denied   %-24s %s%s\n          %s\n", ts, str("reason"), str("path"), who, str("detail"))
	case strings.HasPrefix(e.Message, "audit: resource unsafe"):
		d.unsafe[fmt.Sprintf("%s %v (%s)", str("kind"), enc.Fields["id"], str("name"))] = str("findings")
	case e.Message == "audit of Metabase done":
		keys := make([]string, 0, len(d.unsafe))
		for k := range d.unsafe {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		fmt.Fprintf(&b, "audit    %v resources audited, %v refused as unsafe", enc.Fields["audited"], enc.Fields["unsafe"])
		for _, k := range keys {
			fmt.Fprintf(&b, "\n          %s: %s", k, firstFinding(d.unsafe[k]))
		}
		d.unsafe = map[string]string{}
		if v := b.String(); v != d.lastAudit {
			d.lastAudit = v
			fmt.Fprintf(d.w, "%s  %s\n", ts, v)
		}
	case e.Message == "tenantgate listening":
	default:
		fmt.Fprintf(d.w, "%s  %-7s  %s\n", ts, e.Level.String(), e.Message)
	}
	return nil
}

// firstFinding keeps an audit verdict to its first finding, for one line.
func firstFinding(s string) string {
	if i := strings.Index(s, "; "); i > 0 {
		return s[:i] + " (and more: tenantgate audit)"
	}
	return s
}
