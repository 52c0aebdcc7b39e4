package policy

import (
	"errors"
	"net/url"
	"strconv"
	"testing"
)

func TestEmbedSDKPath(t *testing.T) {
	tests := []struct {
		path string
		want Route
	}{
		{"/embed/sdk/v1", RouteEmbedSDK},
		{"/embed/sdk/v1/", RouteNone},
		{"/embed/sdk/v1/x", RouteNone},
		{"/embed/sdk/v2", RouteNone},
		{"/embed/sdk/V1", RouteNone},
		{"/embed/sdk", RouteNone},
		{"/embed/sdk/v1;x", RouteNone},
		{"/embed/sdk/v1.csv", RouteNone},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f, err := ForwardablePath(tt.path, 4096)
			if tt.want == RouteNone {
				if err == nil && f.Route == RouteEmbedSDK {
					t.Fatalf("ForwardablePath(%q) = embed-sdk, want it refused", tt.path)
				}
				return
			}
			if err != nil || f.Route != tt.want || f.Upstream("") != EmbedSDKPath {
				t.Fatalf("ForwardablePath(%q) = %v %q (%v), want %v %s", tt.path, f.Route, f.Upstream(""), err, tt.want, EmbedSDKPath)
			}
		})
	}
}

func TestEmbedSDKQuery(t *testing.T) {
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{"", "", true},
		{"embed-js-identifier=0", "embed-js-identifier=0", true},
		{"embed-js-identifier=17", "embed-js-identifier=17", true},
		{"embed-js-identifier=123456789", "embed-js-identifier=123456789", true},
		{"embed-js-identifier=1234567890", "", false},
		{"embed-js-identifier=01", "", false},
		{"embed-js-identifier=", "", false},
		{"embed-js-identifier", "", false},
		{"embed-js-identifier=1&embed-js-identifier=2", "", false},
		{"embed-js-identifier=1&token=x", "", false},
		{"token=eyJ.eyJ.sig", "", false},
		{"embed-js-identifier=1;x", "", false},
		{"embed-js-identifier=%31", "", false},
		{"embed-js-identifier=-1", "", false},
		{"Embed-js-identifier=1", "", false},
		{"embed-js-identifier=1#x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := EmbedSDKQuery(tt.raw)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("EmbedSDKQuery(%q) = %q, %v; want %q, ok %v", tt.raw, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrQuery) {
				t.Fatalf("EmbedSDKQuery(%q): %v, want ErrQuery", tt.raw, err)
			}
		})
	}
}

// FuzzEmbedSDKQuery: an accepted query is its own rebuild, and holds one
// key, embed-js-identifier, with one value, a non-negative decimal.
func FuzzEmbedSDKQuery(f *testing.F) {
	for _, s := range []string{"", "embed-js-identifier=0", "embed-js-identifier=12", "embed-js-identifier=1&x=2", "x=1", "embed-js-identifier=%30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := EmbedSDKQuery(raw)
		if err != nil {
			return
		}
		if got != raw {
			t.Fatalf("EmbedSDKQuery(%q) = %q: not the query accepted", raw, got)
		}
		if raw == "" {
			return
		}
		q, perr := url.ParseQuery(got)
		vs := q[embedSDKIdentifier]
		if perr != nil || len(q) != 1 || len(vs) != 1 {
			t.Fatalf("EmbedSDKQuery(%q) accepted %v (%v)", raw, q, perr)
		}
		if n, err := strconv.Atoi(vs[0]); err != nil || n < 0 || strconv.Itoa(n) != vs[0] {
			t.Fatalf("EmbedSDKQuery(%q) accepted the identifier %q", raw, vs[0])
		}
	})
}
