package metabasetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Texts of the token errors. Two of them differ only by the final period:
// buddy-sign words a bad signature without one and an unparsable payload
// with one.
const (
	msgCorrupt        = "Message seems corrupt or manipulated"
	msgCorruptPayload = "Message seems corrupt or manipulated."
	msgMissingAlg     = "JWT is missing `alg`."
	msgAlgNone        = "JWT `alg` cannot be `none`."
	msgNoSecret       = "The embedding secret key has not been set."
	msgInvalidID      = "Invalid ID."
	msgEntityID       = "problem looking up id from entity_id"
	msgParamsNotMap   = "Token params must be a JSON object."
)

// leeway is how far exp and nbf may be off, as Metabase passes it to buddy.
const leeway = 60

// Sign returns an HS256 token over claims the way Metabase's reference apps
// sign them (jsonwebtoken, PyJWT): header {"alg":"HS256","typ":"JWT"},
// HMAC key = the UTF-8 bytes of secret (a 64-hex-char string is not
// hex-decoded). It panics if claims cannot be encoded as JSON.
func Sign(secret string, claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("metabasetest.Sign: " + err.Error())
	}
	return signRaw(secret, []byte(`{"alg":"HS256","typ":"JWT"}`), payload)
}

// signRaw signs header and payload bytes as given, with HMAC-SHA256.
func signRaw(secret string, header, payload []byte) string {
	signing := b64(header) + "." + b64(payload)
	return signing + "." + b64(mac(secret, signing))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mac(secret, signing string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// strictBase64 decodes a base64url segment, with or without padding.
func strictBase64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// lenientBase64 decodes like the commons-codec decoder Metabase uses to peek
// at the header: both alphabets, anything else skipped, a dangling
// character dropped.
func lenientBase64(s string) []byte {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			b.WriteRune(c)
		case c == '-':
			b.WriteByte('+')
		case c == '_':
			b.WriteByte('/')
		}
	}
	clean := b.String()
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out, err := base64.RawStdEncoding.DecodeString(clean)
	if err != nil {
		return nil
	}
	return out
}

// decodeFirst decodes the first JSON value of data into v and ignores what
// follows, as cheshire does. Numbers stay json.Number.
func decodeFirst(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// claims is the payload of a verified token.
type claims struct {
	// obj is the payload object; nil when the payload is JSON but not an
	// object, which Metabase reads as a token without any claim.
	obj map[string]json.RawMessage
}

// get decodes the claim key, nil when absent.
func (c *claims) get(key string) any {
	raw, ok := c.obj[key]
	if !ok {
		return nil
	}
	return decodeValue(raw)
}

// decodeValue decodes raw, keeping objects' key order (as *omap) and
// numbers as json.Number.
func decodeValue(raw []byte) any {
	if m, ok := decodeOrdered(raw); ok {
		return m
	}
	var v any
	if err := decodeFirst(raw, &v); err != nil {
		return nil
	}
	return v
}

// unsign verifies token the way Metabase's embedding/jwt.clj and buddy-sign
// do, in their order: Metabase peeks at the header for `alg` (missing or
// "none" rejected), then needs the secret, then buddy checks the signature
// as HS256 whatever the header says, parses the payload and checks exp and
// nbf with 60 s of leeway. iat is not checked.
func (s *Server) unsign(token string) (*claims, error) {
	header, _, _ := strings.Cut(token, ".")
	var hv any
	if err := decodeFirst(lenientBase64(header), &hv); err != nil && !errors.Is(err, io.EOF) {
		// Real Metabase answers Jackson's parse error text here.
		return nil, badRequest(msgCorrupt)
	}
	var alg any
	if hm, ok := hv.(map[string]any); ok {
		alg = hm["alg"]
	}
	if !truthy(alg) {
		return nil, badRequest(msgMissingAlg)
	}
	if alg == "none" {
		return nil, badRequest(msgAlgNone)
	}
	if s.opts.SecretKey == "" {
		return nil, badRequest(msgNoSecret)
	}
	parts := strings.SplitN(token, ".", 3)
	if len(parts) < 3 {
		return nil, badRequest(msgCorrupt)
	}
	if !strictHeaderOK(parts[0]) {
		return nil, badRequest(msgCorruptPayload)
	}
	sig, err := strictBase64(parts[2])
	if err != nil || !hmac.Equal(sig, mac(s.opts.SecretKey, parts[0]+"."+parts[1])) {
		return nil, badRequest(msgCorrupt)
	}
	payload, err := strictBase64(parts[1])
	if err != nil {
		return nil, badRequest(msgCorruptPayload)
	}
	var raw json.RawMessage
	if err := decodeFirst(payload, &raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, badRequest(msgCorruptPayload)
	}
	c := &claims{}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		if err := json.Unmarshal(raw, &c.obj); err != nil {
			return nil, badRequest(msgCorruptPayload)
		}
	}
	if err := s.checkTimes(c); err != nil {
		return nil, err
	}
	return c, nil
}

// strictHeaderOK is buddy's own parse of the header: strict base64url, a
// JSON object whose alg is a string.
func strictHeaderOK(seg string) bool {
	b, err := strictBase64(seg)
	if err != nil {
		return false
	}
	var h map[string]any
	if err := decodeFirst(b, &h); err != nil {
		return false
	}
	_, ok := h["alg"].(string)
	return ok
}

// checkTimes applies buddy's exp and nbf rules: a claim that is null or
// false is skipped (Clojure truthiness), a number is compared with the
// leeway, anything else fails the numeric comparison with a cast error.
func (s *Server) checkTimes(c *claims) error {
	now := s.now().Unix()
	for _, k := range []string{"exp", "nbf"} {
		v := c.get(k)
		if !truthy(v) {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return badRequest(classCastToNumber(v))
		}
		f, _ := strconv.ParseFloat(string(n), 64) // out of range gives ±Inf, as Jackson
		if k == "exp" && f <= float64(now-leeway) {
			return badRequest(fmt.Sprintf("Token is expired (%s)", clojureNumber(n)))
		}
		if k == "nbf" && f > float64(now+leeway) {
			return badRequest(fmt.Sprintf("Token is not yet valid (%s)", clojureNumber(n)))
		}
	}
	return nil
}

// verifiedClaims decodes token's payload for the recorder when its HS256
// signature verifies with the secret; nil otherwise.
func (s *Server) verifiedClaims(token string) map[string]any {
	if s.opts.SecretKey == "" {
		return nil
	}
	parts := strings.SplitN(token, ".", 3)
	if len(parts) < 3 {
		return nil
	}
	sig, err := strictBase64(parts[2])
	if err != nil || !hmac.Equal(sig, mac(s.opts.SecretKey, parts[0]+"."+parts[1])) {
		return nil
	}
	payload, err := strictBase64(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return nil
	}
	return m
}

// truthy is Clojure truthiness: everything but nil and false.
func truthy(v any) bool {
	if v == nil {
		return false
	}
	b, isBool := v.(bool)
	return !isBool || b
}

// clojureNumber prints a JSON number the way Clojure's str prints what
// Jackson parsed: integers as Long or BigInteger, others as Java doubles.
func clojureNumber(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if bi, ok := new(big.Int).SetString(s, 10); ok {
			return bi.String()
		}
		return s
	}
	f, _ := strconv.ParseFloat(s, 64)
	return javaDouble(f)
}

// javaDouble formats f like Java's Double.toString.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0 && math.Signbit(f):
		return "-0.0"
	case f == 0:
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, 64), "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// classCastToNumber is the JVM's message when Clojure compares a non-number
// claim with a number.
func classCastToNumber(v any) string {
	switch v.(type) {
	case string:
		return javaBaseCast("java.lang.String")
	case bool:
		return javaBaseCast("java.lang.Boolean")
	case []any:
		return clojureCast("clojure.lang.PersistentVector")
	default:
		return clojureCast("clojure.lang.PersistentArrayMap")
	}
}

func javaBaseCast(class string) string {
	return fmt.Sprintf("class %s cannot be cast to class java.lang.Number (%s and java.lang.Number are in module java.base of loader 'bootstrap')", class, class)
}

func clojureCast(class string) string {
	return fmt.Sprintf("class %s cannot be cast to class java.lang.Number (%s is in unnamed module of loader 'app'; java.lang.Number is in module java.base of loader 'bootstrap')", class, class)
}

// embedToken is a verified token with its resource ids translated.
type embedToken struct {
	c *claims
	// question and dashboard hold the translated id (int) when the claim
	// was truthy, else the raw claim (nil or false).
	question, dashboard any
}

// unsignAndTranslate is Metabase's unsign-and-translate-ids: verify, then
// turn resource.question and resource.dashboard (in that order) into
// numeric ids when present.
func (s *Server) unsignAndTranslate(token string, ct *content) (*embedToken, error) {
	c, err := s.unsign(token)
	if err != nil {
		return nil, err
	}
	t := &embedToken{c: c, question: c.resource("question"), dashboard: c.resource("dashboard")}
	if truthy(t.question) {
		if t.question, err = toID(modelCard, t.question, ct); err != nil {
			return nil, err
		}
	}
	if truthy(t.dashboard) {
		if t.dashboard, err = toID(modelDashboard, t.dashboard, ct); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// resource decodes resource.<key>; a resource that is not an object holds
// nothing.
func (c *claims) resource(key string) any {
	r, ok := c.get("resource").(*omap)
	if !ok {
		return nil
	}
	v, _ := r.get(key)
	return v
}

// requireResource is Metabase's get-in-unsigned-token-or-throw for a
// translated resource id.
func requireResource(v any, key string) (int, error) {
	if !truthy(v) {
		return 0, badRequest(fmt.Sprintf("Token is missing value for keypath [:resource :%s]", key))
	}
	return v.(int), nil
}

// params is get-in-unsigned-token-or-throw [:params]. An empty JSON array
// behaves as an empty map in Clojure; other non-objects break the
// parameter code further on.
func (c *claims) params() (*omap, error) {
	v := c.get("params")
	if !truthy(v) {
		return nil, badRequest("Token is missing value for keypath [:params]")
	}
	switch p := v.(type) {
	case *omap:
		return p, nil
	case []any:
		if len(p) == 0 {
			return newOmap(), nil
		}
	}
	return nil, badRequest(msgParamsNotMap)
}

const (
	modelCard      = "card"
	modelDashboard = "dashboard"
)

// toID is Metabase's eid-translation ->id: a positive integer stays, a
// string is looked up as a 21-character entity id of that model, anything
// else is invalid.
func toID(model string, v any, ct *content) (int, error) {
	switch x := v.(type) {
	case string:
		if model == modelCard {
			for _, c := range ct.cards {
				if c.EntityID == x {
					return c.ID, nil
				}
			}
		} else {
			for _, d := range ct.dashboards {
				if d.EntityID == x {
					return d.ID, nil
				}
			}
		}
		return 0, badRequest(msgEntityID)
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return 0, badRequest(msgInvalidID) // a Double, never pos-int?
		}
		id, err := strconv.ParseInt(string(x), 10, 0)
		if err != nil || id <= 0 {
			return 0, badRequest(msgInvalidID)
		}
		return int(id), nil
	}
	return 0, badRequest(msgInvalidID)
}
