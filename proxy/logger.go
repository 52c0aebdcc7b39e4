package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/internal/bytescan"
	"github.com/tenantgate/tenantgate/policy"
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
	enc := newJSONEncoder()
	// The buffer's Sync only flushes: out.Sync (an fsync, or EINVAL on a
	// pipe) runs once, at close.
	buf := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(writerOnly{out}), Size: 256 << 10, FlushInterval: time.Second}
	low := zapcore.NewCore(enc, buf, zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= lvl && l < zapcore.WarnLevel }))
	high := zapcore.NewCore(enc, flushing{buf}, zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= lvl && l >= zapcore.WarnLevel }))
	var core zapcore.Core = zapcore.NewTee(low, high)
	if c.Sampling {
		low = zapcore.NewSamplerWithOptions(low, time.Second, 100, 100)
		core = zapcore.NewTee(low, high)
	} else if lvl <= zapcore.InfoLevel {
		core = &accessCore{Core: core, out: buf}
	}
	closeLog = func() error {
		if err := buf.Stop(); err != nil {
			return err
		}
		_ = out.Sync() // stderr on a pipe or a terminal cannot fsync; nothing is lost by that
		return nil
	}
	return zap.New(core), closeLog, nil
}

// accessCore is the logger's core when access lines are written and not
// sampled: Gate.record then appends its line straight into the buffered
// writer (appendAccessLine), byte for byte what zap's JSON encoder would
// write, without zap's entry, fields and encoder (about 9,000 instructions
// and an allocation per request). Every other line goes through zap.
type accessCore struct {
	zapcore.Core
	out *zapcore.BufferedWriteSyncer
	now func() time.Time // the entry's time; nil: the request's end, read once for its duration too (tests fix it)
}

// appendAccessLine appends the JSON access line of a request, as zap's
// production JSON encoder with NewLogger's settings writes
// log.Info("request", fields...) for record's fields: level, ts, msg, then
// the fields in order, strings escaped as zap escapes them, the path
// redacted while it is appended (redactPath). tenant and subject are
// written when hasIdentity, reason when reason != "".
func appendAccessLine(b []byte, now time.Time, requestID, route, method string, path policy.ScannedPath, status int, bytes, durUS int64,
	hasIdentity bool, tenant, subject, reason string) []byte {
	b = append(b, `{"level":"info","ts":"`...)
	b = appendMillis(b, now)
	b = append(b, `","msg":"request","request_id":"`...)
	b = appendJSONString(b, requestID)
	b = append(b, `","route":"`...)
	b = appendJSONString(b, route)
	b = append(b, `","method":"`...)
	b = appendJSONString(b, method)
	b = append(b, `","path":"`...)
	b = appendRedactedPath(b, path.String(), path.Plain())
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, durUS, 10)
	if hasIdentity {
		b = append(b, `,"tenant":"`...)
		b = appendJSONString(b, tenant)
		b = append(b, `","subject":"`...)
		b = appendJSONString(b, subject)
		b = append(b, '"')
	}
	if reason != "" {
		b = append(b, `,"reason":"`...)
		b = appendJSONString(b, reason)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendRedactedPath appends redactPath(p), JSON-escaped. Escaping the
// pieces one by one gives zap's escaping of the whole: every boundary
// between pieces is next to an ASCII byte ('/' or '~'), so no rune is cut.
// plain says every byte of p is in [A-Za-z0-9_.-/] (the path's scan found
// it so): none needs escaping, and the pieces are copied as they are.
func appendRedactedPath(b []byte, p string, plain bool) []byte {
	appendPiece := appendJSONString
	if plain {
		appendPiece = appendPlain
	}
	last := 0 // p[:last] is already appended
	for start := 0; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		if seg := p[start:end]; secretLike(seg) {
			b = appendPiece(b, p[last:start])
			b = append(b, '~')
			if jwsTail(seg) {
				b = appendPiece(b, seg[len(seg)-8:])
			} else {
				sum := sha256.Sum256([]byte(seg))
				b = hex.AppendEncode(b, sum[:4])
			}
			last = end
		}
		start = end + 1
	}
	return appendPiece(b, p[last:])
}

// appendPlain appends s, which needs no JSON escape.
func appendPlain(b []byte, s string) []byte { return append(b, s...) }

// jsonPlain marks the bytes zap's JSON encoder copies as they are: ASCII
// from 0x20 except the quote and the backslash.
var jsonPlain = func() (t [256]uint8) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		if c != '"' && c != '\\' {
			t[c] = 1
		}
	}
	return t
}()

// appendJSONString appends s escaped exactly as zap's JSON encoder escapes
// a string (zapcore's safeAppendStringLike): a quote or a backslash after a
// backslash; \n, \r and \t as such; other bytes below 0x20 as \u00XX;
// each byte of invalid UTF-8 as \ufffd; valid UTF-8 as it is.
func appendJSONString(b []byte, s string) []byte {
	first := bytescan.IndexNotIn(&jsonPlain, s) // eight bytes at a time
	if first < 0 {
		return append(b, s...)
	}
	last := 0
	for i := first; i < len(s); {
		c := s[i]
		if jsonPlain[c] == 1 {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[last:i]...)
			b = append(b, `\ufffd`...)
			i++
			last = i
			continue
		}
		b = append(b, s[last:i]...)
		switch c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		last = i
	}
	return append(b, s[last:]...)
}

const hexDigits = "0123456789abcdef"

// newJSONEncoder is the encoder of every line NewLogger writes through zap.
func newJSONEncoder() zapcore.Encoder {
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = encodeTime
	return zapcore.NewJSONEncoder(ec)
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
	enc.AppendString(millisText(t))
}

// millisText is t as encodeTime writes it, formatted at most once per
// millisecond.
func millisText(t time.Time) string {
	ms := t.UnixMilli()
	if f := lastMilli.Load(); f != nil && f.ms == ms {
		return f.text
	}
	f := &formattedMilli{ms: ms, text: t.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	lastMilli.Store(f)
	return f.text
}

// appendMillis appends t as millisText writes it, from a prefix formatted
// at most once per second ("2026-11-26T23:10:05.") and three digits.
func appendMillis(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	sec, m := ms/1000, ms%1000
	if m < 0 {
		sec, m = sec-1, m+1000
	}
	f := lastSecond.Load()
	if f == nil || f.ms != sec {
		f = &formattedMilli{ms: sec, text: time.UnixMilli(sec * 1000).UTC().Format("2006-01-02T15:04:05.")}
		lastSecond.Store(f)
	}
	return append(append(b, f.text...), byte('0'+m/100), byte('0'+m/10%10), byte('0'+m%10), 'Z')
}

// lastSecond is appendMillis's prefix, its ms field holding the second.
var lastSecond atomic.Pointer[formattedMilli]

type formattedMilli struct {
	ms   int64
	text string
}

var lastMilli atomic.Pointer[formattedMilli]
