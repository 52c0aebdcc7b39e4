package proxy

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
)

// NewLogger builds the gate's JSON logger: the one `serve` and `demo` run,
// and the one the benchmarks and the load test measure.
//
// Access lines (below Warn) are buffered and written at most a second
// later or when 256 KiB have gathered, so a request costs one encode and
// no write(2). Denials and errors (Warn and above), the audit trail, are
// written before the call returns, after any access line logged before
// them. With sampling on, only access lines are sampled. closeLog flushes
// what is buffered and stops the flusher; call it before exiting.
func NewLogger(c configs.LogConfig, out zapcore.WriteSyncer) (log *zap.Logger, closeLog func() error, err error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = encodeTime
	enc := zapcore.NewJSONEncoder(ec)
	// The buffer's Sync only flushes: out.Sync (an fsync, or EINVAL on a
	// pipe) runs once, at close.
	buf := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(writerOnly{out}), Size: 256 << 10, FlushInterval: time.Second}
	low := zapcore.NewCore(enc, buf, zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= lvl && l < zapcore.WarnLevel }))
	high := zapcore.NewCore(enc, flushing{buf}, zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= lvl && l >= zapcore.WarnLevel }))
	if c.Sampling {
		low = zapcore.NewSamplerWithOptions(low, time.Second, 100, 100)
	}
	closeLog = func() error {
		if err := buf.Stop(); err != nil {
			return err
		}
		_ = out.Sync() // stderr on a pipe or a terminal cannot fsync; nothing is lost by that
		return nil
	}
	return zap.New(zapcore.NewTee(low, high)), closeLog, nil
}

// writerOnly hides the Sync of its WriteSyncer.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// flushing writes through the shared buffer, then flushes it: a denial is
// out before the request that caused it is answered.
type flushing struct{ b *zapcore.BufferedWriteSyncer }

func (f flushing) Write(p []byte) (int, error) {
	n, err := f.b.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.b.Sync()
}

func (f flushing) Sync() error { return f.b.Sync() }

// encodeTime writes an entry's time as ISO 8601 in UTC with milliseconds
// ("2026-11-26T23:10:05.123Z"). The text is formatted at most once per
// millisecond and shared: under load many lines fall in the same one, and
// formatting a time was a visible share of an access line's cost.
func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	ms := t.UnixMilli()
	if f := lastMilli.Load(); f != nil && f.ms == ms {
		enc.AppendString(f.text)
		return
	}
	f := &formattedMilli{ms: ms, text: t.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	lastMilli.Store(f)
	enc.AppendString(f.text)
}

type formattedMilli struct {
	ms   int64
	text string
}

var lastMilli atomic.Pointer[formattedMilli]
