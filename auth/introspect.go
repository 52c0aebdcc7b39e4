package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/singleflight"

	"github.com/tenantgate/tenantgate/configs"
)

const (
	// defaultIntrospectTTL is how long a positive answer is reused when the config leaves it 0.
	defaultIntrospectTTL = 30 * time.Second
	// defaultIntrospectTimeout bounds one introspection call when the config leaves it 0.
	defaultIntrospectTimeout = 2 * time.Second
	// maxIntrospectBytes caps the introspection answer.
	maxIntrospectBytes = 1 << 20
)

// IntrospectOptions are an Introspector's collaborators; the zero value is usable.
type IntrospectOptions struct {
	// Now is the clock for the cache and exp; nil means time.Now.
	Now func() time.Time
	// HTTPClient calls the endpoint; nil means a client on
	// http.DefaultTransport. It is copied, never modified; the copy does
	// not follow redirects.
	HTTPClient *http.Client
	// Logger receives failed calls (warn) and rejected sessions (debug);
	// nil means no logs. Cookies and tokens are never logged.
	Logger *zap.Logger
	// Observer receives cache lookups ("introspect") and endpoint
	// failures ("introspect"); nil means none.
	Observer Observer
	// SubjectClaim names the field of the answer that identifies the user
	// (session.subject_claim); "" means "sub". An answer without it is
	// refused with ErrSubjectMissing.
	SubjectClaim string
}

// Introspector resolves the caller by asking the app: it sends GET to the
// configured URL with the caller's Cookie and Authorization headers (and no
// other header of the caller's), and reads the JSON object answered with 200
// as the session's claims.
//
// 401 and 403 mean the session is invalid. Every other outcome (another
// status, a redirect, a body that is not a JSON object, a timeout, a refused
// connection) means the gate cannot decide, and fails closed with
// ErrUnavailable. An endpoint should therefore answer 401 rather than
// redirect to a login page.
//
// Positive answers are cached for the configured TTL (less if the answer's
// exp is sooner), keyed by a hash of the two headers; failures never are.
// Concurrent lookups for the same headers share one call. The Identity
// returned may be shared with other requests: callers must not modify it,
// its Groups or its Claims.
type Introspector struct {
	url          string
	tenantClaim  string
	subjectClaim string
	ttl          time.Duration
	timeout      time.Duration
	now          func() time.Time
	client       *http.Client
	log          *zap.Logger
	cache        *identityCache[credentialKey]
	calls        singleflight.Group
	obs          Observer
}

var _ Authenticator = (*Introspector)(nil)

// NewIntrospector returns an Authenticator that asks cfg.URL who the caller
// is. tenantClaim names the top-level field of the answer holding the tenant.
func NewIntrospector(cfg configs.IntrospectConfig, tenantClaim string, opts IntrospectOptions) (*Introspector, error) {
	var errs []error
	if tenantClaim == "" {
		errs = append(errs, errors.New("tenant claim name is empty"))
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("introspect: url %q is not an absolute http(s) URL", cfg.URL))
	}
	if cfg.TTL < 0 {
		errs = append(errs, fmt.Errorf("introspect: ttl %v is negative", cfg.TTL))
	}
	if cfg.Timeout < 0 {
		errs = append(errs, fmt.Errorf("introspect: timeout %v is negative", cfg.Timeout))
	}
	if cfg.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("introspect: cache_size %d is negative", cfg.CacheSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cache, err := newIdentityCache[credentialKey](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("creating introspection cache: %w", err)
	}
	in := &Introspector{
		url:          cfg.URL,
		tenantClaim:  tenantClaim,
		subjectClaim: opts.SubjectClaim,
		ttl:          cfg.TTL,
		timeout:      cfg.Timeout,
		now:          opts.Now,
		log:          opts.Logger,
		obs:          observerOr(opts.Observer),
		cache:        cache,
	}
	if in.ttl == 0 {
		in.ttl = defaultIntrospectTTL
	}
	if in.timeout == 0 {
		in.timeout = defaultIntrospectTimeout
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.log == nil {
		in.log = zap.NewNop()
	}
	client := http.Client{}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	// A redirect is an answer we do not understand, not one to follow with
	// the caller's cookies.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	in.client = &client
	return in, nil
}

// Authenticate asks the app who sent r. Errors wrap ErrNoCredentials,
// ErrSessionInvalid, ErrSessionExpired, ErrTenantMissing, ErrSubjectMissing
// or ErrUnavailable.
// The returned Identity may be shared: do not modify it.
func (in *Introspector) Authenticate(ctx context.Context, r *http.Request) (*Identity, error) {
	cookies := nonEmpty(r.Header["Cookie"])
	auths := nonEmpty(r.Header["Authorization"])
	if len(cookies) == 0 && len(auths) == 0 {
		return nil, ErrNoCredentials
	}
	key := hashGroups(cookies, auths)
	if id, ok := in.cache.get(key, in.now()); ok {
		in.obs.Cache("introspect", true)
		return id, nil
	}
	in.obs.Cache("introspect", false)
	// The shared call must not die with whichever caller started it, so it
	// runs on a context that keeps ctx's values but not its cancellation;
	// each caller still stops waiting when its own ctx ends.
	callCtx := context.WithoutCancel(ctx)
	ch := in.calls.DoChan(string(key[:]), func() (any, error) {
		id, err := in.introspect(callCtx, cookies, auths)
		if err != nil {
			in.logFailure(err) // once per call, not once per waiting caller
			return nil, err
		}
		in.cache.add(key, id, id.Expiry, in.now())
		return id, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Identity), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for session introspection: %w: %w", ctx.Err(), ErrUnavailable)
	}
}

func (in *Introspector) logFailure(err error) {
	if errors.Is(err, ErrUnavailable) {
		in.obs.ProviderError("introspect")
		in.log.Warn("session introspection failed", zap.Error(err))
		return
	}
	if ce := in.log.Check(zapcore.DebugLevel, "session rejected by introspection"); ce != nil {
		ce.Write(zap.Error(err))
	}
}

// nonEmpty returns vs without empty values (nil if none is left).
func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// introspect makes one call to the endpoint.
func (in *Introspector) introspect(ctx context.Context, cookies, auths []string) (*Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, in.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url, nil)
	if err != nil {
		return nil, fmt.Errorf("building introspection request: %w: %w", err, ErrUnavailable)
	}
	req.Header.Set("Accept", "application/json")
	if len(cookies) > 0 {
		req.Header["Cookie"] = cookies
	}
	if len(auths) > 0 {
		req.Header["Authorization"] = auths
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling introspection endpoint: %w: %w", err, ErrUnavailable)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		drain(resp.Body)
		return nil, fmt.Errorf("introspection endpoint answered %d: %w", resp.StatusCode, ErrSessionInvalid)
	default:
		drain(resp.Body)
		return nil, fmt.Errorf("introspection endpoint answered %d: %w", resp.StatusCode, ErrUnavailable)
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading introspection answer: %w: %w", err, ErrUnavailable)
	}
	if len(body) > maxIntrospectBytes {
		return nil, fmt.Errorf("introspection answer is larger than %d bytes: %w", maxIntrospectBytes, ErrUnavailable)
	}
	claims, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("decoding introspection answer: %w: %w", err, ErrUnavailable)
	}

	now := in.now()
	expiry := now.Add(in.ttl)
	exp, ok, err := claimsExpiry(claims)
	if err != nil {
		return nil, fmt.Errorf("reading exp of introspection answer: %w: %w", err, ErrUnavailable)
	}
	if ok {
		if !now.Before(exp) {
			return nil, fmt.Errorf("introspection answer's exp has passed: %w", ErrSessionExpired)
		}
		if exp.Before(expiry) {
			expiry = exp
		}
	}
	id, err := identityFromClaims(claims, in.tenantClaim, in.subjectClaim, "introspect")
	if err != nil {
		return nil, fmt.Errorf("reading introspection answer: %w", err)
	}
	id.Expiry = expiry
	return id, nil
}

// decodeClaims parses body as one JSON object, numbers as json.Number.
func decodeClaims(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, errors.New("answer is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("answer has data after the JSON object")
	}
	return claims, nil
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(body io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
}
