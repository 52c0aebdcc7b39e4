package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestCLI: each subcommand takes only its own flags, extra arguments and
// flags after arguments are errors that say so, and help lists every
// subcommand (issue 14).
func TestCLI(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		out    []string // substrings of stdout
		errOut []string // substrings of stderr
	}{
		{"help command", []string{"help"}, 0, []string{"serve", "check-config", "demo", "standin", "explain", "audit", "version"}, nil},
		{"--help", []string{"--help"}, 0, []string{"standin", "run the gateway"}, nil},
		{"-h", []string{"-h"}, 0, []string{"check-config"}, nil},
		{"unknown command", []string{"srve"}, 2, nil, []string{`unknown command "srve"`, "serve"}},
		{"check-config with a file argument", []string{"check-config", "tenantgate.yaml"}, 2, nil, []string{`unexpected argument "tenantgate.yaml"`, "--config FILE"}},
		{"demo takes no --config", []string{"demo", "--config", "x.yaml"}, 2, nil, []string{"flag provided but not defined: -config", "usage: tenantgate demo"}},
		{"flag after argument", []string{"explain", "GET", "/x", "--claims", "{}"}, 2, nil, []string{`flag "--claims" comes after the argument "GET"`}},
		{"flag after --", []string{"audit", "--", "--format", "json"}, 2, nil, []string{`flag "--format" comes after "--"`}},
		{"audit extra argument", []string{"audit", "now"}, 2, nil, []string{`unexpected argument "now"`}},
		{"version extra argument", []string{"version", "--short"}, 2, nil, []string{"flag provided but not defined"}},
		{"serve flag after argument", []string{"serve", "x", "--listen", ":1"}, 2, nil, []string{`flag "--listen" comes after the argument "x"`}},
		{"standin bad secret", []string{"standin", "--secret", "abc"}, 2, nil, []string{"64 hexadecimal characters"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Errorf("exit code: got %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.errOut {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}

// TestHelpListsEveryCommand: a command added to the table is in the help.
func TestHelpListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	usage(&out)
	for _, c := range commands() {
		if !strings.Contains(out.String(), "  "+c.name+" ") || !strings.Contains(out.String(), c.summary) {
			t.Errorf("help lacks %s: %q", c.name, c.summary)
		}
	}
}

// TestServeListen: serve --listen is honoured, as TENANTGATE_LISTEN, and
// without it the environment's value stands.
func TestServeListen(t *testing.T) {
	t.Setenv("TENANTGATE_LISTEN", "127.0.0.1:7000")
	var got string
	old := serveFunc
	defer func() { serveFunc = old }()
	serveFunc = func(_ string, env func(string) (string, bool), _ io.Writer) int {
		got, _ = env("TENANTGATE_LISTEN")
		return 0
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--listen", "127.0.0.1:7001"}, "127.0.0.1:7001"},
		{[]string{"--listen", "127.0.0.1:7002"}, "127.0.0.1:7002"}, // serve is the default command
		{[]string{"serve"}, "127.0.0.1:7000"},
	} {
		got = ""
		if code := run(tc.args, io.Discard, io.Discard); code != 0 || got != tc.want {
			t.Errorf("%v: TENANTGATE_LISTEN seen by serve: got %q (exit %d), want %q", tc.args, got, code, tc.want)
		}
	}
}

// TestVersion prints the version and revision set with -ldflags.
func TestVersionLdflags(t *testing.T) {
	oldV, oldR := version, revision
	defer func() { version, revision = oldV, oldR }()
	version, revision = "v1.2.3", "0123abcd"
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "tenantgate v1.2.3 (revision 0123abcd,") {
		t.Errorf("version: got %q (exit %d)", out.String(), code)
	}
}
