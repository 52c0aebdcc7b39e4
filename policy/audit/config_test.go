package audit

import (
	"reflect"
	"testing"

	"github.com/tenantgate/tenantgate/configs"
)

func TestConfigForSSO(t *testing.T) {
	c := &configs.Config{}
	c.Tenant.Param = "organization_id"
	c.Policy.Resources = []configs.ResourcePolicy{{Dashboard: 1}, {Question: 2}}
	if got := ConfigFor(c); got.SSO != nil || len(got.Policy) != 2 {
		t.Errorf("SSO off: %+v", got)
	}
	c.SSO.JWTSharedSecret = "x"
	c.SSO.GroupMappings = map[string]string{"customer": "Embedded customers", "staff": "Embedded customers", "ops": "Ops"}
	got := ConfigFor(c)
	want := &SSO{TenantAttribute: "organization_id", Groups: []string{"Embedded customers", "Ops"}}
	if !reflect.DeepEqual(got.SSO, want) {
		t.Errorf("SSO on: %+v, want %+v", got.SSO, want)
	}
}
