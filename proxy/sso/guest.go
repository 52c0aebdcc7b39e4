package sso

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// Guest-embed token refresh (Metabase PR 71075). Modular embedding's
// embed.js, in guest mode, asks the app's guestEmbedProviderUri for a token
// when an embed starts without one or its token expires: POST
// {uri}?response=json with {"entityType", "entityId", "customContext"},
// expecting {"jwt"}. Through the gate that provider is
// /.tenantgate/guest/token and its "jwt" is a fresh embed handle, bound to
// the caller like every handle: the browser never holds a token Metabase
// would accept.
//
// Everything in the body comes from the browser. entityType and entityId
// only name the resource the caller asks for; the policy decides, for the
// caller's own session, whether it may be embedded and with which locked
// params (exactly as GET /.tenantgate/embed/{kind}/{id} does), and nothing
// of the body is copied into the handle. customContext is the host page's
// data for an app's own provider: the gate has no use for it, so it is
// accepted in any JSON form (embed.js sends a string or an object) and
// ignored. Entity ids (Metabase's 21-character ids) are refused: the
// policy names resources by numeric id.

// GuestHost is what the guest provider needs from the gate.
type GuestHost interface {
	Caller
	// MintHandle decides whether who may embed res now (revocation,
	// policy, audit guard) and, if so, seals a handle for it.
	MintHandle(r *http.Request, who *auth.Identity, res auth.Resource) (handle string, exp time.Time, d policy.Decision, err error)
}

// Guest serves POST /.tenantgate/guest/token. It needs no SSO: guest
// embeds sign nobody in to Metabase.
type Guest struct{ Host GuestHost }

type guestRequest struct {
	res auth.Resource
}

// ServeHTTP answers the provider call with {"jwt": handle}.
func (g Guest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, vs := range r.URL.Query() {
		if k != "response" || len(vs) != 1 || vs[0] != "json" {
			g.Host.Deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "the guest token provider takes only response=json"})
			return
		}
	}
	// application/json only: a cross-site page cannot send it without a
	// CORS preflight the gate never answers, so no other site can have a
	// handle minted with the caller's cookies.
	req, err := readGuestBody(w, r)
	if err != nil {
		reason := policy.ReasonMalformedRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			reason = policy.ReasonRequestTooLarge
		}
		g.Host.Deny(w, r, policy.Decision{Reason: reason, Detail: "guest token request: " + err.Error()})
		return
	}
	who := g.Host.Identify(w, r)
	if who == nil {
		return
	}
	handle, _, d, err := g.Host.MintHandle(r, who, req.res)
	if err != nil {
		g.Host.Fail(w, r, err)
		return
	}
	g.Host.Decided(r, d)
	if !d.Allow {
		g.Host.Deny(w, r, d)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sdkJWTResponse{JWT: handle})
}

// readGuestBody parses {"entityType": "dashboard"|"question", "entityId":
// <positive integer>, "customContext": <any, ignored>}, each key at most
// once, no other key.
func readGuestBody(w http.ResponseWriter, r *http.Request) (guestRequest, error) {
	if err := jsonContentType(r); err != nil {
		return guestRequest{}, err
	}
	var out guestRequest
	seen := map[string]bool{}
	err := readObject(w, r, func(k string, dec *json.Decoder) error {
		if seen[k] {
			return errors.New("the body repeats " + strconv.Quote(k))
		}
		seen[k] = true
		switch k {
		case "entityType":
			v, err := dec.Token()
			s, _ := v.(string)
			if err != nil || (s != auth.KindDashboard && s != auth.KindQuestion) {
				return bodyError(err, `"entityType" must be "dashboard" or "question"`)
			}
			out.res.Kind = s
		case "entityId":
			v, err := dec.Token()
			if err != nil {
				return bodyError(err, `"entityId" must be a positive integer`)
			}
			n, isNumber := v.(json.Number)
			id, convErr := strconv.Atoi(string(n))
			if !isNumber || convErr != nil || !positiveID(string(n)) {
				if _, isString := v.(string); isString {
					return errors.New(`"entityId" must be the numeric id: entity ids are not accepted, the policy names resources by number`)
				}
				return errors.New(`"entityId" must be a positive integer`)
			}
			out.res.ID = id
		case "customContext":
			var ignored json.RawMessage // the host page's, for an app's own provider: never read, never sent on
			if err := dec.Decode(&ignored); err != nil {
				return bodyError(err, `"customContext" must be JSON`)
			}
		default:
			return errors.New("the body takes entityType, entityId and customContext, not " + strconv.Quote(k))
		}
		return nil
	})
	if err != nil {
		return guestRequest{}, err
	}
	if out.res.Kind == "" || out.res.ID == 0 {
		return guestRequest{}, errors.New(`the body needs "entityType" and "entityId"`)
	}
	return out, nil
}

// positiveID is 1 to 9 digits without a leading zero, as the gate's other
// routes take an id.
func positiveID(s string) bool {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
