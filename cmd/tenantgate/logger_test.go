package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
)

// TestLogSampling: sampling thins access lines but never denials.
func TestLogSampling(t *testing.T) {
	for _, sampling := range []bool{false, true} {
		var buf bytes.Buffer
		log, err := newLoggerTo(configs.LogConfig{Level: "info", Sampling: sampling}, zapcore.AddSync(&buf))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			log.Info("request", zap.Int("i", i))
			log.Warn("denied", zap.Int("i", i))
		}
		out := buf.String()
		requests, denials := strings.Count(out, `"msg":"request"`), strings.Count(out, `"msg":"denied"`)
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
	if _, err := newLoggerTo(configs.LogConfig{Level: "loud"}, zapcore.AddSync(&bytes.Buffer{})); err == nil {
		t.Error("bad level accepted")
	}
}
