package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// explain prints what the gate would do with one request, contacting
// nothing: the support engineer's "why is this customer's dashboard blank".
func explain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", stderr)
	configFlag := fs.String("config", "", "YAML config file (or TENANTGATE_CONFIG)")
	token := fs.String("token", "", "the caller's session JWT, verified with the configured HS256 keys")
	claims := fs.String("claims", "", `the caller's claims as JSON instead of a token, e.g. '{"sub":"u1","organization_id":"acme"}'`)
	format := fs.String("format", "text", "text or json")
	var headers headerFlags
	fs.Var(&headers, "header", "extra request header 'Name: value' (repeatable)")
	if !parseFlags(fs, args, 2) {
		return 2
	}
	if fs.NArg() != 2 || (*token == "") == (*claims == "") {
		fs.Usage()
		return 2
	}
	method, target := strings.ToUpper(fs.Arg(0)), fs.Arg(1)
	cfg, err := configs.LoadAndValidate(configs.ConfigPath(*configFlag, os.LookupEnv), os.LookupEnv, configs.ModeDemo)
	if err != nil {
		fmt.Fprintf(stderr, "configuration problems:\n%v\n", err)
		return 2
	}
	authn, note, err := explainAuth(cfg, *token, *claims)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	secrets := make([]string, 0, len(cfg.Handles.Secrets))
	for _, s := range cfg.Handles.Secrets {
		secrets = append(secrets, s.Reveal())
	}
	if len(secrets) == 0 {
		secrets = []string{randomHex(32)}
		note += "TENANTGATE_HANDLE_SECRET is not set: handles from a running gate cannot be opened here.\n"
	}
	handles, err := auth.NewHandleKeyring(secrets, cfg.Handles.TTL, 16, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	h := http.Header{}
	if *token != "" {
		h.Set("Authorization", "Bearer "+*token)
	}
	for _, kv := range headers {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			fmt.Fprintf(stderr, "--header %q: want 'Name: value'\n", kv)
			return 2
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	ex, err := proxy.Explain(cfg, authn, handles, method, target, h)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ex)
	} else {
		printExplanation(stdout, ex, note)
	}
	if ex.Decision == "deny" {
		return 1
	}
	return 0
}

// explainAuth turns --token or --claims into the caller. A token is
// verified with the configured HS256 keys only (JWKS would mean a fetch).
func explainAuth(cfg *configs.Config, token, claims string) (auth.Authenticator, string, error) {
	if claims != "" {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(claims))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, "", fmt.Errorf("--claims is not a JSON object: %w", err)
		}
		id, err := auth.IdentityFromClaims(m, cfg.Tenant.Claim, cfg.Session.SubjectClaim)
		return auth.Static{Identity: id, Err: err}, "", nil
	}
	sc := cfg.Session
	note := ""
	if sc.JWKSURL != "" {
		sc.JWKSURL = ""
		note = "the JWKS URL is not fetched: only HS256 session keys verify here.\n"
	}
	if len(sc.JWTSecrets) == 0 {
		return nil, "", errors.New("--token needs TENANTGATE_SESSION_JWT_SECRET (HS256); use --claims for JWKS or introspection set-ups")
	}
	j, err := auth.NewJWTAuthenticator(sc, cfg.Tenant.Claim, auth.JWTOptions{Ctx: context.Background()})
	if err != nil {
		return nil, "", err
	}
	return j, note, nil
}

func printExplanation(w io.Writer, ex *proxy.Explanation, note string) {
	fmt.Fprintf(w, "request:   %s\n", ex.Target)
	fmt.Fprintf(w, "decision:  %s (%s), HTTP %d\n", ex.Decision, ex.Reason, ex.Status)
	fmt.Fprintf(w, "route:     %s\n", ex.Route)
	if ex.Message != "" {
		fmt.Fprintf(w, "client:    %s\n", ex.Message)
	}
	if ex.Detail != "" {
		fmt.Fprintf(w, "log:       %s\n", ex.Detail)
	}
	if ex.Location != "" {
		fmt.Fprintf(w, "redirect:  %s\n", ex.Location)
		b, _ := json.Marshal(ex.HandleClaims)
		fmt.Fprintf(w, "handle:    %s\n", b)
	}
	if ex.Upstream != nil {
		fmt.Fprintf(w, "metabase:  %s %s", ex.Upstream.Method, redactToken(ex.Upstream.Path))
		if ex.Upstream.Query != "" {
			fmt.Fprintf(w, "?%s", ex.Upstream.Query)
		}
		fmt.Fprintln(w)
		if ex.Upstream.TokenClaims != nil {
			b, _ := json.Marshal(ex.Upstream.TokenClaims)
			fmt.Fprintf(w, "token:     %s\n", b)
		}
	} else {
		fmt.Fprintln(w, "metabase:  (nothing would reach Metabase)")
	}
	if note != "" {
		fmt.Fprintf(w, "note:      %s", note)
	}
}

// redactToken keeps a signed Metabase token out of a support ticket: its
// claims are printed instead.
func redactToken(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.Count(s, ".") >= 2 && len(s) > 40 {
			segs[i] = "<token>"
		}
	}
	return strings.Join(segs, "/")
}
