package configs

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// DefaultSSOEmailTemplate is sso.email_template's default: one Metabase
// user per subject and tenant, at a reserved domain (RFC 2606) that no mail
// ever reaches.
const DefaultSSOEmailTemplate = defaultSSOEmailTemplate

// EmailPart is one piece of a parsed SSO email template: literal Text, or
// (Field set) a field of the caller's identity.
type EmailPart struct {
	Text string
	// Field is "Subject", "Tenant", "Email" or "Claims" (then Claim names
	// the claim).
	Field, Claim string
}

// emailFields are the identity fields a template may name.
var emailFields = map[string]bool{"Subject": true, "Tenant": true, "Email": true}

// ParseEmailTemplate parses the SSO email template: the Metabase identity
// (Metabase keys JWT users by email, compared in lower case) the gate mints
// for a caller. The template may hold only literal text and the fields
// {{ .Subject }}, {{ .Tenant }}, {{ .Email }} and {{ .Claims.name }}: no
// functions, pipelines or branches. The gate renders each field in an
// injective lower-case encoding over [a-z0-9_-] (auth.EncodeEmailPart), so
// no value can bring its own "+", "." or "@". The template is accepted only
// if every rendering is an address and distinct (tenant, subject, ...)
// always give distinct addresses:
//   - it names .Subject, and .Tenant unless tenants is on (Metabase's
//     first-class tenants then refuse a user who signs in under another
//     tenant);
//   - it ends in a literal "@domain", with no field after the "@";
//   - two fields are always separated by literal text holding "+" or ".",
//     characters the encoding never produces;
//   - literal text holds only [A-Za-z0-9.+_-] and that one "@".
func ParseEmailTemplate(text string, tenants bool) ([]EmailPart, error) {
	t, err := template.New("email").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return nil, errors.New("the template is empty")
	}
	var parts []EmailPart
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.CommentNode:
		case *parse.TextNode:
			if len(parts) > 0 && parts[len(parts)-1].Field == "" {
				parts[len(parts)-1].Text += string(n.Text)
			} else {
				parts = append(parts, EmailPart{Text: string(n.Text)})
			}
		case *parse.ActionNode:
			f, ok := emailField(n)
			if !ok {
				return nil, fmt.Errorf("%s is not one of {{ .Subject }}, {{ .Tenant }}, {{ .Email }} or {{ .Claims.name }}: the template takes fields and literal text only", n)
			}
			parts = append(parts, f)
		default:
			return nil, fmt.Errorf("%s is not allowed: the template takes fields and literal text only", n)
		}
	}
	return parts, checkEmailParts(parts, tenants)
}

// emailField reads {{ .Subject }}-style actions.
func emailField(n *parse.ActionNode) (EmailPart, bool) {
	if n.Pipe == nil || len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
		return EmailPart{}, false
	}
	f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
	switch {
	case !ok:
		return EmailPart{}, false
	case len(f.Ident) == 1 && emailFields[f.Ident[0]]:
		return EmailPart{Field: f.Ident[0]}, true
	case len(f.Ident) == 2 && f.Ident[0] == "Claims" && f.Ident[1] != "":
		return EmailPart{Field: "Claims", Claim: f.Ident[1]}, true
	}
	return EmailPart{}, false
}

func checkEmailParts(parts []EmailPart, tenants bool) error {
	var subject, tenant bool
	at := -1
	for i, p := range parts {
		switch p.Field {
		case "Subject":
			subject = true
		case "Tenant":
			tenant = true
		}
		if p.Field != "" {
			if at >= 0 {
				return errors.New("a field comes after the \"@\": the domain must be literal text")
			}
			if i > 0 && parts[i-1].Field != "" {
				return errors.New("two fields touch: separate them with literal text holding \"+\" or \".\", so that no two identities give one address")
			}
			continue
		}
		for _, r := range p.Text {
			if !emailLiteralChar(r) {
				return fmt.Errorf("literal text %q holds %q: use only letters, digits, \".\", \"+\", \"_\", \"-\" and one \"@\"", p.Text, r)
			}
		}
		if strings.Contains(p.Text, "..") {
			return errors.New("two \".\" touch: Metabase's email check refuses such an address")
		}
		if n := strings.Count(p.Text, "@"); n > 1 || (n == 1 && at >= 0) {
			return errors.New("the template has more than one \"@\"")
		} else if n == 1 {
			at = i
		}
		if at == i && hasFieldAfter(parts, i) {
			return errors.New("a field comes after the \"@\": the domain must be literal text")
		}
		if i > 0 && i < len(parts)-1 && !strings.ContainsAny(p.Text, "+.") {
			return fmt.Errorf("literal text %q between two fields holds neither \"+\" nor \".\": two identities could give one address", p.Text)
		}
	}
	switch {
	case !subject:
		return errors.New("the template does not name {{ .Subject }}: every user must have a Metabase account of their own")
	case !tenant && !tenants:
		return errors.New("the template does not name {{ .Tenant }}: a user of two organizations would share one Metabase account, whose attributes the last sign-in sets for every session (issue 12); add {{ .Tenant }}, or turn on sso.tenants")
	case at < 0 || at != len(parts)-1:
		return errors.New("the template does not end in a literal \"@domain\"")
	}
	last := parts[len(parts)-1].Text
	local, domain, _ := strings.Cut(last, "@")
	if err := checkEmailDomain(domain); err != nil {
		return err
	}
	if strings.HasSuffix(local, ".") || strings.HasPrefix(parts[0].Text, ".") {
		return errors.New("a \".\" starts the address or ends it before the \"@\": Metabase's email check refuses such an address")
	}
	return nil
}

func hasFieldAfter(parts []EmailPart, i int) bool {
	for _, p := range parts[i+1:] {
		if p.Field != "" {
			return true
		}
	}
	return false
}

func emailLiteralChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".+_-@", r)
}

// checkEmailDomain accepts a DNS name of at least two labels.
func checkEmailDomain(d string) error {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return fmt.Errorf("the domain %q is not a DNS name of two labels or more, such as tenantgate.invalid", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") || strings.ContainsAny(l, "+_@") {
			return fmt.Errorf("the domain %q is not a DNS name, such as tenantgate.invalid", d)
		}
	}
	return nil
}
