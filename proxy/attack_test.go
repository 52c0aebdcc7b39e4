package proxy

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

type caller struct{ subject, tenant, token string }

func corpusSessions() map[string]caller {
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","organization_id":"acme","exp":`+strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)+`}`)) + "."
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "organization_id": "globex", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not-the-session-key-0123456789abcdef"))
	return map[string]caller{
		"acme":     {"alice", "acme", session("alice", "acme", time.Hour)},
		"acme2":    {"anne", "acme", session("anne", "acme", time.Hour)},
		"globex":   {"bob", "globex", session("bob", "globex", time.Hour)},
		"none":     {},
		"expired":  {"alice", "acme", session("alice", "acme", -time.Hour)},
		"notenant": {"mallory", "", session("mallory", "", time.Hour)},
		"forged":   {"alice", "globex", forged},
		"algnone":  {"alice", "acme", none},
	}
}

// expand replaces the corpus placeholders with real tokens (expandWith).
func expand(t *testing.T, s string, sessions map[string]caller) string {
	t.Helper()
	return expandWith(t, s, func(inner string) string { return token(t, inner, sessions) })
}

func token(t *testing.T, inner string, sessions map[string]caller) string {
	t.Helper()
	now := time.Now()
	m := "{" + inner + "}"
	{
		kind, arg, _ := strings.Cut(inner, ":")
		switch kind {
		case "LONG":
			return strings.Repeat("a", 5000) + ".b.c"
		case "MB":
			// kind:id:params:exp, params may hold colons.
			parts := strings.SplitN(arg, ":", 3)
			id, _ := strconv.Atoi(parts[1])
			rest := parts[2]
			i := strings.LastIndexByte(rest, ':')
			var params map[string]any
			if err := json.Unmarshal([]byte(rest[:i]), &params); err != nil {
				t.Fatalf("placeholder %s: %v", m, err)
			}
			claims := jwt.MapClaims{"resource": map[string]any{parts[0]: id}, "params": params}
			if exp := rest[i+1:]; exp != "none" {
				d, err := time.ParseDuration(exp)
				if err != nil {
					t.Fatalf("placeholder %s: %v", m, err)
				}
				claims["exp"] = now.Add(d).Unix()
			}
			return metabasetest.Sign(testMBKey, claims)
		}
		parts := strings.Split(arg, ":")
		who := sessions[parts[0]]
		id, _ := strconv.Atoi(parts[2])
		res := auth.Resource{Kind: parts[1], ID: id}
		clock := now
		if kind == "HOLD" {
			clock = now.Add(-13 * time.Hour)
		}
		k, err := auth.NewHandleKeyring([]string{testHandleKey}, 10*time.Minute, 10, func() time.Time { return clock })
		if err != nil {
			t.Fatal(err)
		}
		h, _, err := k.Seal(res, map[string]any{"organization_id": who.tenant}, who.tenant, who.subject)
		if err != nil {
			t.Fatal(err)
		}
		seg := strings.Split(h, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(seg[0])
		switch kind {
		case "HTAMPER":
			p, _ := base64.RawURLEncoding.DecodeString(seg[1])
			p = []byte(strings.ReplaceAll(string(p), `"`+who.tenant+`"`, `"globex"`))
			return seg[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + seg[2]
		case "HNONE":
			hn := strings.Replace(string(hdr), `"HS256"`, `"none"`, 1)
			return base64.RawURLEncoding.EncodeToString([]byte(hn)) + "." + seg[1] + "."
		case "HS512":
			h5 := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(hdr), `"HS256"`, `"HS512"`, 1)))
			sig, _ := jwt.SigningMethodHS256.Sign(h5+"."+seg[1], []byte(testHandleKey))
			return h5 + "." + seg[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}
		return h
	}
}

// TestAttackCorpus replays testdata/attacks.txt: each case gets its status
// and reason, a refused case reaches Metabase not at all, and nothing that
// reaches Metabase carries a foreign tenant or a client credential.
func TestAttackCorpus(t *testing.T) {
	harnesses := map[string]*harness{
		"default": newHarness(t, nil),
		"pt": newHarness(t, func(c *configs.Config) {
			c.PassThrough.Enabled = true
			c.Policy.Resources = []configs.ResourcePolicy{
				{Dashboard: 1, EditableParams: []string{"status"}},
				{Question: 1},
			}
		}),
	}
	sessions := corpusSessions()
	// Everything secret the corpus sends: no log line may hold any of it.
	secrets := []string{testMBKey, testSessionKey, testHandleKey, "mb_abcdef", "00000000-0000-0000-0000-000000000000"}
	for _, c := range sessions {
		if c.token != "" {
			secrets = append(secrets, c.token)
		}
	}
	for _, cc := range readCorpus(t, "testdata/attacks.txt", 40) {
		cfgName, sessName, req, hdrs, want := cc.config, cc.session, cc.request, cc.headers, cc.want
		t.Run(cc.name, func(t *testing.T) {
			h := harnesses[cfgName]
			who, ok := sessions[sessName]
			if h == nil || !ok {
				t.Fatalf("unknown config %q or session %q", cfgName, sessName)
			}
			method, target, _ := strings.Cut(expand(t, req, sessions), " ")
			for _, seg := range strings.FieldsFunc(target, func(r rune) bool { return r == '/' || r == '?' || r == '&' || r == '=' }) {
				if strings.Count(seg, ".") >= 2 && len(seg) > 20 {
					secrets = append(secrets, seg)
				}
			}
			hdr := http.Header{}
			if hdrs != "-" {
				for _, kv := range strings.Split(hdrs, " ;; ") {
					k, v, _ := strings.Cut(kv, ": ")
					hdr.Add(k, v)
				}
			}
			wantStatus, wantReason, _ := strings.Cut(want, " ")
			h.mb.Reset()
			w := h.do(method, target, who.token, hdr)
			if got := strconv.Itoa(w.Code); got != wantStatus {
				t.Errorf("status = %s, want %s (body %s)", got, wantStatus, w.Body)
			}
			gotReason := reason(w)
			if w.Code < 300 {
				gotReason = "allowed"
			}
			if gotReason != wantReason {
				t.Errorf("reason = %q, want %q", gotReason, wantReason)
			}
			got := h.mb.Requests()
			if w.Code >= 300 && len(got) > 0 {
				t.Errorf("refused request reached Metabase %d times (first: %s)", len(got), got[0].Path)
			}
			for _, r := range got {
				for _, k := range []string{"Cookie", "Authorization", "X-Metabase-Session", "X-Api-Key", "X-Forwarded-For"} {
					if v := r.Header.Get(k); v != "" && !(k == "X-Forwarded-For" && !strings.Contains(v, "10.9.9.9")) {
						t.Errorf("Metabase received %s: %q", k, v)
					}
				}
				if r.Claims != nil {
					params, _ := r.Claims["params"].(map[string]any)
					if params["organization_id"] != who.tenant {
						t.Errorf("Metabase received organization_id %v for a caller of %q", params["organization_id"], who.tenant)
					}
				}
			}
		})
	}
	for name, h := range harnesses {
		noSecretLogged(t, name, h.logs, secrets)
	}
}

// corpusCase is one line of an attack corpus file:
//
//	name | config | session | METHOD path?query | headers or - | status reason
type corpusCase struct{ name, config, session, request, headers, want string }

// readCorpus reads an attack corpus (blank lines and # comments skipped)
// and fails the test if it holds fewer than min cases.
func readCorpus(t *testing.T, path string, min int) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Split(line, " | ")
		if len(cols) != 6 {
			t.Fatalf("%s: a line has %d columns, want 6: %s", path, len(cols), line)
		}
		cases = append(cases, corpusCase{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]})
	}
	if len(cases) < min {
		t.Errorf("%s has %d cases, want at least %d", path, len(cases), min)
	}
	return cases
}

// noSecretLogged fails for every log line that holds one of secrets.
func noSecretLogged(t *testing.T, gate string, logs *observer.ObservedLogs, secrets []string) {
	t.Helper()
	for _, e := range logs.All() {
		b, _ := json.Marshal(e.ContextMap())
		line := e.Message + " " + string(b)
		for _, sec := range secrets {
			if strings.Contains(line, sec) {
				t.Errorf("%s gate logged a secret or token (%.12s...): %s", gate, sec, line)
			}
		}
	}
}
