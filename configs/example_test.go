package configs

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const exampleFile = "tenantgate.example.yaml"

// exampleSecrets stand in for the placeholders of the example file.
var exampleSecrets = map[string]string{
	"MB_EMBEDDING_SECRET_KEY":       testEmbedKey,
	"TENANTGATE_SESSION_JWT_SECRET": testJWTKey,
	"TENANTGATE_HANDLE_SECRET":      testHandle,
}

func TestExampleFileIsValid(t *testing.T) {
	c, err := LoadAndValidate(exampleFile, envMap(exampleSecrets), ModeServe)
	if err != nil {
		t.Fatalf("%s with its secrets from the environment does not validate:\n%v", exampleFile, err)
	}
	if got, want := len(c.Policy.Resources), 2; got != want {
		t.Errorf("example policy has %d resources, want %d", got, want)
	}
}

// The placeholders must never work as secrets, so a copied example fails
// loudly instead of running with a guessable key.
func TestExamplePlaceholdersDoNotValidate(t *testing.T) {
	_, err := LoadAndValidate(exampleFile, nil, ModeServe)
	wantProblems(t, err,
		"MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) must be Metabase's embedding secret key",
		"TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets[0]) is 29 bytes",
		"TENANTGATE_HANDLE_SECRET (handles.secrets[0]) is 22 bytes",
	)
}

// TestExampleFileCoversEveryKey fails when a field is added to Config but
// not to the example.
func TestExampleFileCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	collectYAMLKeys(doc.Content[0], "", have)
	var want []string
	collectFieldKeys(reflect.TypeFor[Config](), "", &want)
	for _, k := range want {
		if !have[k] {
			t.Errorf("%s does not show %s", exampleFile, k)
		}
	}
	for k := range have {
		if !slices.Contains(want, k) && !strings.HasPrefix(k, "policy.resources[].require_claims.") &&
			!strings.HasPrefix(k, "policy.resources[].locked_params.") && !strings.HasPrefix(k, "sso.group_mappings.") {
			t.Errorf("%s shows %s, which is no setting", exampleFile, k)
		}
	}
}

func collectYAMLKeys(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := prefix + n.Content[i].Value
			out[key] = true
			collectYAMLKeys(n.Content[i+1], key+".", out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			collectYAMLKeys(item, strings.TrimSuffix(prefix, ".")+"[].", out)
		}
	}
}

func collectFieldKeys(t reflect.Type, prefix string, out *[]string) {
	for f := range t.Fields() {
		key := prefix + strings.Split(f.Tag.Get("yaml"), ",")[0]
		*out = append(*out, key)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath():
			collectFieldKeys(ft, key+".", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			collectFieldKeys(ft.Elem(), key+"[].", out)
		}
	}
}
