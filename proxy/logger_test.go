package proxy

import (
	"bytes"
	"strings"
	"sync"
	"testing"

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
