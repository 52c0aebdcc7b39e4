package proxy

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
)

// lockedBuffer is a WriteSyncer tests can read while the flusher writes.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	syncs int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncs++
	return nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoggerSampling: sampling thins access lines but never denials.
func TestLoggerSampling(t *testing.T) {
	for _, sampling := range []bool{false, true} {
		var out lockedBuffer
		log, closeLog, err := NewLogger(configs.LogConfig{Level: "info", Sampling: sampling}, &out)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			log.Info("request", zap.Int("i", i))
			log.Warn("denied", zap.Int("i", i))
		}
		if err := closeLog(); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		requests, denials := strings.Count(s, `"msg":"request"`), strings.Count(s, `"msg":"denied"`)
		if denials != 1000 {
			t.Errorf("sampling=%v: %d denial lines, want all 1000", sampling, denials)
		}
		if sampling && (requests >= 1000 || requests < 100) {
			t.Errorf("sampling on: %d access lines, want the first 100 then 1 in 100", requests)
		}
		if !sampling && requests != 1000 {
			t.Errorf("sampling off: %d access lines, want 1000", requests)
		}
	}
	if _, _, err := NewLogger(configs.LogConfig{Level: "loud"}, &lockedBuffer{}); err == nil {
		t.Error("bad level accepted")
	}
}

// TestLoggerBuffering: access lines wait in the buffer; a denial is
// written before Warn returns, after the access lines logged before it;
// close writes the rest and syncs the output once.
func TestLoggerBuffering(t *testing.T) {
	var out lockedBuffer
	log, closeLog, err := NewLogger(configs.LogConfig{Level: "info"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request", zap.Int("i", 1))
	if s := out.String(); s != "" {
		t.Fatalf("access line written at once (no buffering): %q", s)
	}
	log.Warn("denied", zap.String("reason", "tenant-mismatch"))
	s := out.String()
	first, denial := strings.Index(s, `"msg":"request"`), strings.Index(s, `"msg":"denied"`)
	if denial < 0 || first < 0 || first > denial {
		t.Fatalf("after Warn returned: want the access line then the denial, got %q", s)
	}
	log.Info("request", zap.Int("i", 2))
	if strings.Count(out.String(), `"msg":"request"`) != 1 {
		t.Fatal("second access line written at once")
	}
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `"msg":"request"`); n != 2 {
		t.Errorf("after close: %d access lines, want 2", n)
	}
	if out.syncs != 1 {
		t.Errorf("output synced %d times, want once (at close)", out.syncs)
	}
}

// TestLoggerTime: entry times are ISO 8601 UTC with milliseconds, and a
// line never carries another millisecond's text (the formatting is shared).
func TestLoggerTime(t *testing.T) {
	var out lockedBuffer
	base := time.Date(2026, 11, 26, 23, 10, 5, 123_456_789, time.FixedZone("CET", 3600))
	clock := &stepClock{t: base}
	log, closeLog, err := NewLogger(configs.LogConfig{Level: "info"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	log = log.WithOptions(zap.WithClock(clock))
	for i := 0; i < 3; i++ {
		log.Info("request")
		clock.t = clock.t.Add(time.Millisecond)
	}
	log.Info("request")
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-11-26T22:10:05.123Z", "2026-11-26T22:10:05.124Z", "2026-11-26T22:10:05.125Z", "2026-11-26T22:10:05.126Z"}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, `"ts":"`+want[i]+`"`) {
			t.Errorf("line %d: %s, want ts %s", i, l, want[i])
		}
	}
}

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time                         { return c.t }
func (c *stepClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
