package proxy

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/configs"
)

// appSession signs an app session JWT with exactly claims (and exp).
func appSession(claims jwt.MapClaims) string {
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSessionKey))
	if err != nil {
		panic(err)
	}
	return s
}

// identityCorpusSessions are the callers of testdata/identity_attacks.txt:
// a user in several organizations, sessions without a usable subject,
// tenants that are Metabase's routing value, and tenants and subjects that
// would give one email under a naive template (a+b, @, upper case).
func identityCorpusSessions() map[string]ssoCaller {
	org := func(sub, tenant string, extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"sub": sub, "email": "person@example.com", "groups": []string{appGroupCustom}, "region": "eu", "organization_id": tenant}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	caller := func(subject, tenant string, claims jwt.MapClaims) ssoCaller {
		return ssoCaller{subject, tenant, appSession(claims)}
	}
	return map[string]ssoCaller{
		"acme":        caller("alice", "acme", org("alice", "acme", nil)),
		"aliceglobex": caller("alice", "globex", org("alice", "globex", nil)),
		"nosub":       caller("", "acme", org("alice", "acme", jwt.MapClaims{"sub": nil})),
		"blanksub":    caller("", "acme", org(" ", "acme", nil)),
		"router":      caller("alice", "__METABASE_ROUTER__", org("alice", "__METABASE_ROUTER__", nil)),
		"routerlow":   caller("alice", "__metabase_router__ ", org("alice", "__metabase_router__ ", nil)),
		"plus":        caller("alice", "a+b", org("alice", "a+b", nil)),
		"plussub":     caller("alice+a", "b", org("alice+a", "b", nil)),
		"upper":       caller("alice", "ACME", org("alice", "ACME", nil)),
		"at":          caller("alice", "x@evil.example", org("alice", "x@evil.example", nil)),
		"subonly":     caller("", "acme", org("alice", "acme", nil)),
		"uidalice":    caller("alice", "acme", org("mallory", "acme", jwt.MapClaims{"uid": "alice"})),
		"uidanne":     caller("anne", "acme", org("alice", "acme", jwt.MapClaims{"uid": "anne"})),
		"none":        {},
	}
}

// TestIdentityAttackCorpus replays testdata/identity_attacks.txt (issue 12
// §4 and the routing value of §5) with TestSSOAttackCorpus's checks: above
// all, every request that reaches Metabase carries the session of the
// caller's own Metabase user ({subject}+{tenant}), whose attributes still
// hold the caller's tenant, whatever signed in before.
func TestIdentityAttackCorpus(t *testing.T) {
	replaySSOCorpus(t, "testdata/identity_attacks.txt", 25, identityCorpusSessions(), map[string]func(*configs.Config){
		"sso": nil,
		"uid": func(c *configs.Config) { c.Session.SubjectClaim = "uid" },
	})
}
