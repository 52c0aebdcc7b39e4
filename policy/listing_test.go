package policy

import (
	"testing"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
)

// TestListsValues: value listing is on only for the parameter ids a
// resource's policy lists; an open policy lists nothing.
func TestListsValues(t *testing.T) {
	e := engine(t, configs.ResourcePolicy{Dashboard: 42, ValueListings: []string{"p_status"}}, configs.ResourcePolicy{Question: 42})
	q42 := auth.Resource{Kind: auth.KindQuestion, ID: 42}
	tests := []struct {
		name  string
		e     *Engine
		res   auth.Resource
		param string
		want  bool
	}{
		{"listed", e, dash42, "p_status", true},
		{"another parameter", e, dash42, "p_org", false},
		{"same id, other kind", e, q42, "p_status", false},
		{"unlisted resource", e, auth.Resource{Kind: auth.KindDashboard, ID: 1}, "p_status", false},
		{"open policy", engine(t), dash42, "p_status", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.ListsValues(tt.res, tt.param); got != tt.want {
				t.Errorf("ListsValues(%s, %q) = %v, want %v", tt.res, tt.param, got, tt.want)
			}
		})
	}
}
