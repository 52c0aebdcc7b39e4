package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Code is the stable name of a kind of finding: the "code" of the JSON
// report. Its values are a closed set; add one here, never build one at run
// time.
type Code string

// The finding codes.
const (
	// CodeTenantParamMissing: the resource has no parameter with the tenant
	// slug, so no token can restrict it to one tenant.
	CodeTenantParamMissing Code = "tenant-param-missing"
	// CodeTenantParamNotLocked: the tenant parameter is "enabled" or
	// "disabled" (or absent) in embedding_params instead of "locked".
	CodeTenantParamNotLocked Code = "tenant-param-not-locked"
	// CodeDashcardNotWired: a dashcard's card is not mapped to the tenant
	// parameter, so the locked value does not filter it (metabase#59677).
	CodeDashcardNotWired Code = "dashcard-not-wired"
	// CodeEnabledParamFiltersTenant: a browser-settable ("enabled")
	// parameter filters the tenant column.
	CodeEnabledParamFiltersTenant Code = "enabled-param-filters-tenant"
	// CodePolicyResourceNotPublished: tenantgate's policy lists a resource
	// that Metabase does not publish (or that does not exist).
	CodePolicyResourceNotPublished Code = "policy-resource-not-published"
	// CodePublishedResourceNotInPolicy: Metabase publishes a resource that
	// tenantgate's policy (when it lists any) does not know.
	CodePublishedResourceNotInPolicy Code = "published-resource-not-in-policy"
	// CodePublicLink: a dashboard or question has a public link.
	CodePublicLink Code = "public-link"
	// CodeTableUnrestricted: a group SSO users land in (All Users always)
	// may view a table unrestricted, which beats any sandbox: permissions
	// are additive.
	CodeTableUnrestricted Code = "table-unrestricted"
	// CodeTableWithoutSandbox: a group SSO users land in may view a table
	// through something other than a sandbox on the tenant attribute (a
	// sandbox on another attribute, impersonation, an unknown level).
	CodeTableWithoutSandbox Code = "table-without-sandbox"
	// CodeAdminGroupEmbedded: SSO users would be put in an administrator group.
	CodeAdminGroupEmbedded Code = "admin-group-embedded"
	// CodeGroupMappingUnknown: the SSO group mapping names a group Metabase
	// does not have.
	CodeGroupMappingUnknown Code = "group-mapping-unknown"
)

// Codes lists every code, for docs and tests.
var Codes = []Code{
	CodeTenantParamMissing, CodeTenantParamNotLocked, CodeDashcardNotWired, CodeEnabledParamFiltersTenant,
	CodePolicyResourceNotPublished, CodePublishedResourceNotInPolicy, CodePublicLink,
	CodeTableUnrestricted, CodeTableWithoutSandbox, CodeAdminGroupEmbedded, CodeGroupMappingUnknown,
}

// Severity ranks a finding. Critical findings leak another tenant's rows
// (or let a browser choose them); a resource with one is unsafe, and the
// gate's guard refuses to embed it. Warnings are drift between tenantgate
// and Metabase that does not leak by itself.
type Severity string

// The severities.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
)

// Kinds of resources a finding is about. Dashboards and questions use
// tenantgate's names (auth.Resource.Kind).
const (
	KindDashboard = "dashboard"
	KindQuestion  = "question"
	KindTable     = "table"
	KindGroup     = "group"
	KindSSO       = "sso"
)

// Resource names what a finding is about.
type Resource struct {
	Kind string `json:"kind"`
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func (r Resource) String() string {
	if r.Kind == KindSSO {
		return "sso"
	}
	return r.Kind + " " + strconv.Itoa(r.ID)
}

// Finding is one problem: what is wrong, why it leaks, how to fix it in
// Metabase.
type Finding struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	Resource Resource `json:"resource"`
	// Dashcard, Parameter, Group and Database narrow the place, when they
	// apply.
	Dashcard  int    `json:"dashcard,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Group     int    `json:"group,omitempty"`
	Database  int    `json:"database,omitempty"`
	Problem   string `json:"problem"`
	Leak      string `json:"leak"`
	Fix       string `json:"fix"`
}

// Audited is a dashboard or question the audit read, with its verdict.
type Audited struct {
	Kind      string `json:"kind"`
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Published bool   `json:"published"`
	InPolicy  bool   `json:"in_policy"`
	// Safe is false when a critical finding concerns the resource.
	Safe bool `json:"safe"`
}

// CheckedGroup is a group the SSO checks read.
type CheckedGroup struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Summary counts findings by severity.
type Summary struct {
	Critical int `json:"critical"`
	Warning  int `json:"warning"`
}

// FormatVersion is the version of the JSON report's format. It changes only
// when a field is removed or changes meaning; new fields may appear.
const FormatVersion = 1

// Report is the result of an audit. Its JSON form is the stable output of
// `tenantgate audit --format json`.
type Report struct {
	FormatVersion int    `json:"format_version"`
	TenantParam   string `json:"tenant_param"`
	SSOChecked    bool   `json:"sso_checked"`
	// SSOGroups are the groups whose view-data the SSO checks read: All
	// Users and the groups SSO users are mapped to.
	SSOGroups  []CheckedGroup `json:"sso_groups,omitempty"`
	Audited    []Audited      `json:"audited"`
	Findings   []Finding      `json:"findings"`
	Summary    Summary        `json:"summary"`
	byResource map[ref][]int  // indexes into Findings
}

type ref struct {
	kind string
	id   int
}

// newReport sorts the findings, derives verdicts and counts.
func newReport(cfg Config, audited []Audited, findings []Finding) *Report {
	kindOrder := map[string]int{KindDashboard: 0, KindQuestion: 1, KindTable: 2, KindGroup: 3, KindSSO: 4}
	slices.SortStableFunc(findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(kindOrder[a.Resource.Kind], kindOrder[b.Resource.Kind]),
			cmp.Compare(a.Resource.ID, b.Resource.ID),
			cmp.Compare(slices.Index(Codes, a.Code), slices.Index(Codes, b.Code)),
			cmp.Compare(a.Dashcard, b.Dashcard),
			cmp.Compare(a.Parameter, b.Parameter),
			cmp.Compare(a.Group, b.Group),
		)
	})
	slices.SortFunc(audited, func(a, b Audited) int {
		return cmp.Or(cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), cmp.Compare(a.ID, b.ID))
	})
	r := &Report{FormatVersion: FormatVersion, TenantParam: cfg.TenantParam, SSOChecked: cfg.SSO != nil,
		Audited: audited, Findings: findings, byResource: map[ref][]int{}}
	if r.Audited == nil {
		r.Audited = []Audited{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for i, f := range findings {
		k := ref{f.Resource.Kind, f.Resource.ID}
		r.byResource[k] = append(r.byResource[k], i)
		if f.Severity == SeverityCritical {
			r.Summary.Critical++
		} else {
			r.Summary.Warning++
		}
	}
	for i := range r.Audited {
		r.Audited[i].Safe = len(r.Unsafe(r.Audited[i].Kind, r.Audited[i].ID)) == 0
	}
	return r
}

// Clean reports whether the audit found nothing at all.
func (r *Report) Clean() bool { return len(r.Findings) == 0 }

// Lookup returns what the audit knows of dashboard or question id (kind
// KindDashboard or KindQuestion), and whether it read it.
func (r *Report) Lookup(kind string, id int) (Audited, bool) {
	for _, a := range r.Audited {
		if a.Kind == kind && a.ID == id {
			return a, true
		}
	}
	return Audited{}, false
}

// Unsafe returns the critical findings about a resource; none means the
// audit found no leak in it (it may still not have been audited: see Lookup).
func (r *Report) Unsafe(kind string, id int) []Finding {
	var out []Finding
	for _, i := range r.byResource[ref{kind, id}] {
		if r.Findings[i].Severity == SeverityCritical {
			out = append(out, r.Findings[i])
		}
	}
	return out
}

// SSOUnsafe returns the critical findings of the SSO checks: a table some
// group SSO users land in may view without the tenant's sandbox, or SSO
// users are administrators. Any one of them lets every SSO user read other
// tenants' rows through any card, so they concern SSO as a whole; static
// embeds do not run under a user and are not concerned (contract §5).
func (r *Report) SSOUnsafe() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == SeverityCritical && (f.Resource.Kind == KindTable || f.Resource.Kind == KindGroup) {
			out = append(out, f)
		}
	}
	return out
}

// UnsafeResources lists the audited resources with a critical finding.
func (r *Report) UnsafeResources() []Audited {
	var out []Audited
	for _, a := range r.Audited {
		if !a.Safe {
			out = append(out, a)
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON, the stable format
// documented in README.md ("Auditing Metabase").
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes the report for a person: one block per finding, then
// the verdicts and the counts.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.Findings) == 0 {
		fmt.Fprintf(tw, "No findings: every audited resource locks and wires %q.\n", r.TenantParam)
	} else {
		fmt.Fprintln(tw, "SEVERITY\tCODE\tRESOURCE\tWHERE")
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.Code, f.Resource.String()+nameSuffix(f.Resource.Name), where(f))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for i, f := range r.Findings {
			fmt.Fprintf(tw, "\n%d. [%s] %s: %s\n   %s\n   Leak: %s\n   Fix:  %s\n", i+1, f.Severity, f.Code, f.Resource.String(), f.Problem, f.Leak, f.Fix)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "AUDITED\tPUBLISHED\tIN POLICY\tVERDICT")
	for _, a := range r.Audited {
		verdict := "safe"
		if !a.Safe {
			verdict = "UNSAFE"
		}
		fmt.Fprintf(tw, "%s %d%s\t%s\t%s\t%s\n", a.Kind, a.ID, nameSuffix(a.Name), yesNo(a.Published), yesNo(a.InPolicy), verdict)
	}
	sso := "SSO checks skipped (not configured)"
	if r.SSOChecked {
		names := make([]string, len(r.SSOGroups))
		for i, g := range r.SSOGroups {
			names[i] = fmt.Sprintf("%q (%d)", g.Name, g.ID)
		}
		sso = "SSO checked: view-data of every table for " + strings.Join(names, ", ")
	}
	fmt.Fprintf(tw, "\n%d critical, %d warning; %s.\n", r.Summary.Critical, r.Summary.Warning, sso)
	return tw.Flush()
}

func nameSuffix(name string) string {
	if name == "" {
		return ""
	}
	return " (" + name + ")"
}

func where(f Finding) string {
	var parts []string
	if f.Dashcard != 0 {
		parts = append(parts, "dashcard "+strconv.Itoa(f.Dashcard))
	}
	if f.Parameter != "" {
		parts = append(parts, "parameter "+f.Parameter)
	}
	if f.Database != 0 {
		parts = append(parts, "database "+strconv.Itoa(f.Database))
	}
	if f.Group != 0 {
		parts = append(parts, "group "+strconv.Itoa(f.Group))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
