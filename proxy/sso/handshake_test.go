package sso

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"app.example.com", true},
		{"app.example.com:8443", true},
		{"10.0.0.1", true},
		{"[2001:db8::1]", true},
		{"[2001:db8::1]:443", true},
		{"", false},
		{"app.example.com:", false},
		{"app.example.com:0", false},
		{"app.example.com:08", false},
		{"app.example.com:65536", false},
		{"app.example.com/x", false},
		{"user@app.example.com", false},
		{"app.example.com?x", false},
		{"app.example.com#x", false},
		{"app.example.com\\x", false},
		{"app example.com", false},
		{"[not-ip]", false},
		{"[2001:db8::1]x", false},
		{":443", false},
	}
	for _, tt := range tests {
		if got := validHost(tt.host); got != tt.want {
			t.Errorf("validHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// TestReadJWTBody: only {"jwt": "<string>"} as application/json passes;
// a body too large is told apart from a malformed one.
func TestReadJWTBody(t *testing.T) {
	tests := []struct {
		name, ct, body, want string
		tooLarge             bool
	}{
		{"plain", "application/json", `{"jwt":"abc"}`, "abc", false},
		{"spaces and charset", "application/json; charset=utf-8", " { \"jwt\" : \"abc\" } \n", "abc", false},
		{"no content type", "", `{"jwt":"abc"}`, "", false},
		{"json with another param", "application/json; boundary=x", `{"jwt":"abc"}`, "", false},
		{"text", "text/plain", `{"jwt":"abc"}`, "", false},
		{"unknown key", "application/json", `{"jwt":"abc","x":1}`, "", false},
		{"unknown key first", "application/json", `{"x":1,"jwt":"abc"}`, "", false},
		{"duplicate", "application/json", `{"jwt":"abc","jwt":"def"}`, "", false},
		{"number", "application/json", `{"jwt":1}`, "", false},
		{"null", "application/json", `{"jwt":null}`, "", false},
		{"empty", "application/json", `{"jwt":""}`, "", false},
		{"none", "application/json", `{}`, "", false},
		{"trailing", "application/json", `{"jwt":"abc"}x`, "", false},
		{"two objects", "application/json", `{"jwt":"abc"}{"jwt":"def"}`, "", false},
		{"array", "application/json", `["abc"]`, "", false},
		{"string", "application/json", `"abc"`, "", false},
		{"too large", "application/json", `{"jwt":"` + strings.Repeat("a", maxAuthBody) + `"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/auth/sso", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			got, err := readJWTBody(httptest.NewRecorder(), r)
			if got != tt.want || (tt.want == "") != (err != nil) {
				t.Errorf("readJWTBody = %q, %v; want %q", got, err, tt.want)
			}
			var mb *http.MaxBytesError
			if errors.As(err, &mb) != tt.tooLarge {
				t.Errorf("too large = %v, want %v (%v)", !tt.tooLarge, tt.tooLarge, err)
			}
		})
	}
}
