package sso

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadJWTBody: whatever readJWTBody accepts is one JSON object whose
// only key is "jwt", a non-empty string equal to what it returned, as
// encoding/json reads the same bytes: no second parser can see another
// ticket in an accepted body.
func FuzzReadJWTBody(f *testing.F) {
	for _, s := range []string{`{"jwt":"abc"}`, ` {"jwt" : "a\u0062c"} `, `{"jwt":"a","jwt":"b"}`, `{"jwt":"a"}{}`, `{"jwt":1}`, `{}`, `[]`, `{"jwt":"a","x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/auth/sso", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		got, err := readJWTBody(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if len(m) != 1 || m["jwt"] != got || got == "" {
			t.Fatalf("accepted %q as %q, encoding/json reads %v", body, got, m)
		}
	})
}

// FuzzReadGuestBody: whatever readGuestBody accepts names a dashboard or a
// question by a positive id, exactly as encoding/json reads the body, with
// no key beyond entityType, entityId and customContext.
func FuzzReadGuestBody(f *testing.F) {
	for _, s := range []string{`{"entityType":"dashboard","entityId":1,"customContext":"x"}`, `{"entityType":"question","entityId":42}`,
		`{"entityType":"dashboard","entityId":1,"entityId":2}`, `{"entityType":"dashboard","entityId":"1"}`, `{"entityType":"dashboard","entityId":1e0}`,
		`{"entityType":"dashboard","entityId":1,"customContext":{"a":[1,{"b":null}]}}`, `{"entityType":"dashboard","entityId":1,"x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/.tenantgate/guest/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		got, err := readGuestBody(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		for k := range m {
			if k != "entityType" && k != "entityId" && k != "customContext" {
				t.Fatalf("accepted %q with key %q", body, k)
			}
		}
		var kind string
		if json.Unmarshal(m["entityType"], &kind) != nil || kind != got.res.Kind || (kind != "dashboard" && kind != "question") {
			t.Fatalf("accepted %q as %+v, entityType reads %s", body, got, m["entityType"])
		}
		if string(m["entityId"]) != strconv.Itoa(got.res.ID) || got.res.ID <= 0 {
			t.Fatalf("accepted %q as %+v, entityId reads %s", body, got, m["entityId"])
		}
	})
}
