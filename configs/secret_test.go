package configs

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"
)

func TestSecretsNeverPrint(t *testing.T) {
	secrets := []string{
		"EMBED-0123456789abcdef0123456789abcdef",
		"SESSION-0123456789abcdef0123456789abcdef",
		"SESSION2-0123456789abcdef0123456789abcdef",
		"HANDLE-0123456789abcdef0123456789abcdef",
	}
	c := validConfig()
	c.Metabase.EmbeddingSecretKey = Secret(secrets[0])
	c.Session.JWTSecrets = []Secret{Secret(secrets[1]), Secret(secrets[2])}
	c.Handles.Secrets = []Secret{Secret(secrets[3])}

	outputs := map[string]string{}
	// Not %p: fmt prints a non-pointer given to %p raw before consulting any
	// method, whatever Secret defines; go vet's printf check rejects that call.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3s", "%-8v"} {
		outputs["fmt "+verb+" pointer"] = fmt.Sprintf(verb, c)
		outputs["fmt "+verb+" value"] = fmt.Sprintf(verb, *c)
		outputs["fmt "+verb+" metabase"] = fmt.Sprintf(verb, c.Metabase)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, c.Metabase.EmbeddingSecretKey)
		outputs["fmt "+verb+" secrets"] = fmt.Sprintf(verb, c.Session.JWTSecrets)
	}
	outputs["fmt Sprint"] = fmt.Sprint(c)
	outputs["fmt Sprintln"] = fmt.Sprintln(*c)
	if b, err := json.Marshal(c); err != nil {
		t.Fatalf("json.Marshal: %v", err)
	} else {
		outputs["json"] = string(b)
	}
	if b, err := json.MarshalIndent(*c, "", " "); err != nil {
		t.Fatalf("json.MarshalIndent: %v", err)
	} else {
		outputs["json value"] = string(b)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	if buf, err := enc.EncodeEntry(zapcore.Entry{Message: "config"}, []zap.Field{
		zap.Any("config", c), zap.Stringer("key", c.Metabase.EmbeddingSecretKey), zap.Any("keys", c.Session.JWTSecrets),
	}); err != nil {
		t.Fatalf("zap: %v", err)
	} else {
		outputs["zap"] = buf.String()
	}
	if b, err := yaml.Marshal(c); err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	} else {
		outputs["yaml"] = string(b)
	}

	for name, out := range outputs {
		for _, s := range secrets {
			for _, form := range []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))} {
				if strings.Contains(out, form) {
					t.Errorf("%s prints a secret: %s", name, out)
				}
			}
		}
		if !strings.Contains(out, "redacted") && !strings.Contains(out, hex.EncodeToString([]byte("[redacted]"))) &&
			!strings.Contains(out, strings.ToUpper(hex.EncodeToString([]byte("[redacted]")))) {
			t.Errorf("%s shows no placeholder, so the test proves nothing: %s", name, out)
		}
	}
}

func TestSecretEmptyPrintsEmpty(t *testing.T) {
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty Secret prints %q, want \"\"", got)
	}
	if got := Secret("x").Reveal(); got != "x" {
		t.Errorf("Reveal() = %q, want %q", got, "x")
	}
}
