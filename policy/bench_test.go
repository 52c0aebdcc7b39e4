package policy

import (
	"net/url"
	"testing"

	"github.com/tenantgate/tenantgate/configs"
)

// BenchmarkEmbedDecision: the per-request policy work, parse then decide,
// for a dashcard query without and with an editable filter.
//
//	go test -run='^$' -bench=EmbedDecision -benchmem ./policy/
func BenchmarkEmbedDecision(b *testing.B) {
	e := engine(b, configs.ResourcePolicy{Dashboard: 42, EditableParams: []string{"status"}})
	acme := ident("acme", nil)
	cred := Credential{Handle: handle("acme", dash42), SubjectMatch: true}
	path := "/api/embed/dashboard/" + tok + "/dashcard/1/card/1"
	for _, tc := range []struct{ name, query string }{
		{"NoParams", ""},
		{"EditableParam", `parameters={"status":"paid"}`},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			b.Fatal(err)
		}
		if tc.query == "" {
			q = nil // as the gate passes it
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := ParseEmbedPath(path, 4096)
				if err != nil {
					b.Fatal(err)
				}
				if _, d := e.Embed(acme, cred, p, q, t0); !d.Allow {
					b.Fatalf("denied: %+v", d)
				}
			}
		})
	}
}
