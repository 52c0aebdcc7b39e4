package policy

import "net/http"

// Reason is the stable code of a decision. It is the "reason" of JSON error
// bodies, the reason field of decision logs and the reason label of metrics,
// so its values are a closed set: add one here, never build one at run time.
type Reason string

// The reasons. ReasonAllowed is the only one an allowing Decision carries.
const (
	ReasonAllowed             Reason = "allowed"
	ReasonNoSession           Reason = "no-session"
	ReasonSessionInvalid      Reason = "session-invalid"
	ReasonSessionExpired      Reason = "session-expired"
	ReasonTenantMissing       Reason = "tenant-missing"
	ReasonTenantMismatch      Reason = "tenant-mismatch"
	ReasonClaimMissing        Reason = "claim-missing"
	ReasonSubjectMismatch     Reason = "subject-mismatch"
	ReasonSubjectMissing      Reason = "subject-missing"
	ReasonReservedValue       Reason = "reserved-value"
	ReasonHandleInvalid       Reason = "handle-invalid"
	ReasonHandleExpired       Reason = "handle-expired"
	ReasonTokenInvalid        Reason = "token-invalid"
	ReasonResourceNotAllowed  Reason = "resource-not-allowed"
	ReasonResourceUnsafe      Reason = "resource-unsafe"
	ReasonParamNotAllowed     Reason = "param-not-allowed"
	ReasonDownloadNotAllowed  Reason = "download-not-allowed"
	ReasonListingNotAllowed   Reason = "listing-not-allowed"
	ReasonRouteNotAllowed     Reason = "route-not-allowed"
	ReasonMethodNotAllowed    Reason = "method-not-allowed"
	ReasonMalformedRequest    Reason = "malformed-request"
	ReasonRequestTooLarge     Reason = "request-too-large"
	ReasonUpgradeNotAllowed   Reason = "upgrade-not-allowed"
	ReasonIdentityUnavailable Reason = "identity-unavailable"
	ReasonRateLimited         Reason = "rate-limited"
	ReasonUpstreamUnavailable Reason = "upstream-unavailable"
	ReasonUpstreamTimeout     Reason = "upstream-timeout"
	// ReasonUpstreamRejectedToken: Metabase refused a token the gate signed
	// ("Message seems corrupt or manipulated"): its key is not the gate's.
	ReasonUpstreamRejectedToken Reason = "upstream-rejected-token"
	ReasonInternal              Reason = "internal-error"

	// SSO (interactive embedding and the SDK).
	ReasonSSORequired        Reason = "sso-required"
	ReasonSSOSessionInvalid  Reason = "sso-session-invalid"
	ReasonSSOSessionExpired  Reason = "sso-session-expired"
	ReasonSSOSessionMismatch Reason = "sso-session-mismatch"
	ReasonSSOTokenInvalid    Reason = "sso-token-invalid"
	ReasonSSOExchangeFailed  Reason = "sso-exchange-failed"
	ReasonPublicURLUnknown   Reason = "public-url-unknown"
	ReasonSessionRevoked     Reason = "session-revoked"
)

// Reasons lists every reason, for docs, metrics pre-binding and tests.
var Reasons = []Reason{
	ReasonAllowed, ReasonNoSession, ReasonSessionInvalid, ReasonSessionExpired,
	ReasonTenantMissing, ReasonTenantMismatch, ReasonClaimMissing, ReasonSubjectMismatch,
	ReasonSubjectMissing, ReasonReservedValue,
	ReasonHandleInvalid, ReasonHandleExpired, ReasonTokenInvalid,
	ReasonResourceNotAllowed, ReasonResourceUnsafe, ReasonParamNotAllowed, ReasonDownloadNotAllowed,
	ReasonListingNotAllowed, ReasonRouteNotAllowed, ReasonMethodNotAllowed,
	ReasonMalformedRequest, ReasonRequestTooLarge, ReasonUpgradeNotAllowed, ReasonIdentityUnavailable, ReasonRateLimited,
	ReasonUpstreamUnavailable, ReasonUpstreamTimeout, ReasonUpstreamRejectedToken, ReasonInternal,
	ReasonSSORequired, ReasonSSOSessionInvalid, ReasonSSOSessionExpired, ReasonSSOSessionMismatch,
	ReasonSSOTokenInvalid, ReasonSSOExchangeFailed, ReasonPublicURLUnknown, ReasonSessionRevoked,
}

var reasonInfo = map[Reason]struct {
	status int
	text   string
}{
	ReasonAllowed:               {http.StatusOK, "Allowed."},
	ReasonNoSession:             {http.StatusUnauthorized, "You are not signed in to the application. Sign in and reload the page."},
	ReasonSessionInvalid:        {http.StatusUnauthorized, "Your application session could not be verified. Sign in again."},
	ReasonSessionExpired:        {http.StatusUnauthorized, "Your application session has expired. Sign in again."},
	ReasonTenantMissing:         {http.StatusForbidden, "Your session does not name an organization, so no analytics can be shown."},
	ReasonTenantMismatch:        {http.StatusForbidden, "This embed link belongs to another organization. Open the dashboard from your own application."},
	ReasonClaimMissing:          {http.StatusForbidden, "Your session lacks an attribute this dashboard needs to filter its data."},
	ReasonSubjectMismatch:       {http.StatusForbidden, "This embed link was issued to another user. Open the dashboard from your own application."},
	ReasonSubjectMissing:        {http.StatusForbidden, "Your session does not name a user, so no analytics can be shown."},
	ReasonReservedValue:         {http.StatusForbidden, "Your session carries a value the gateway never passes to Metabase, so no analytics can be shown."},
	ReasonHandleInvalid:         {http.StatusForbidden, "This embed link is not valid. Open the dashboard from your application again."},
	ReasonHandleExpired:         {http.StatusForbidden, "This embed link has expired. Reload the page in your application."},
	ReasonTokenInvalid:          {http.StatusForbidden, "This embed token is not accepted by the gateway."},
	ReasonResourceNotAllowed:    {http.StatusForbidden, "Your organization may not view this dashboard or question."},
	ReasonResourceUnsafe:        {http.StatusForbidden, "This dashboard or question is withheld: its set-up in Metabase could show other organizations' data. Ask your administrator to check it."},
	ReasonParamNotAllowed:       {http.StatusBadRequest, "A filter in this request may not be set from the browser."},
	ReasonDownloadNotAllowed:    {http.StatusForbidden, "Downloads are not enabled for this dashboard or question."},
	ReasonListingNotAllowed:     {http.StatusForbidden, "Listing the values of this filter is not enabled."},
	ReasonRouteNotAllowed:       {http.StatusForbidden, "This Metabase path is not available through the analytics gateway."},
	ReasonMethodNotAllowed:      {http.StatusMethodNotAllowed, "This method is not allowed on this path."},
	ReasonMalformedRequest:      {http.StatusBadRequest, "The request path or query is malformed."},
	ReasonRequestTooLarge:       {http.StatusRequestHeaderFieldsTooLarge, "The request is too large."},
	ReasonUpgradeNotAllowed:     {http.StatusBadRequest, "The analytics gateway does not switch protocols (WebSocket, h2c): send plain HTTP requests."},
	ReasonIdentityUnavailable:   {http.StatusServiceUnavailable, "The gateway could not check your session right now. Try again shortly."},
	ReasonRateLimited:           {http.StatusTooManyRequests, "Your organization is sending too many analytics requests right now. Try again in a moment."},
	ReasonUpstreamUnavailable:   {http.StatusBadGateway, "Analytics are unavailable right now. Try again shortly."},
	ReasonUpstreamTimeout:       {http.StatusGatewayTimeout, "Analytics took too long to answer. Try again shortly."},
	ReasonUpstreamRejectedToken: {http.StatusBadGateway, "Analytics are unavailable: the analytics server does not accept the gateway's credentials. Your administrator has been alerted."},
	ReasonInternal:              {http.StatusInternalServerError, "The gateway failed to handle this request."},
	ReasonSSORequired:           {http.StatusUnauthorized, "You are not signed in to analytics. Reload the page to sign in."},
	ReasonSSOSessionInvalid:     {http.StatusUnauthorized, "This analytics session is not one the gateway issued. Reload the page to sign in again."},
	ReasonSSOSessionExpired:     {http.StatusUnauthorized, "Your analytics session has ended. Reload the page to sign in again."},
	ReasonSSOSessionMismatch:    {http.StatusUnauthorized, "This analytics session belongs to another user or organization. Reload the page to sign in again."},
	ReasonSSOTokenInvalid:       {http.StatusForbidden, "This sign-in token is not one the gateway issued to you."},
	ReasonSSOExchangeFailed:     {http.StatusBadGateway, "Signing in to analytics failed. Try again shortly."},
	ReasonSessionRevoked:        {http.StatusUnauthorized, "Your analytics session has been revoked by an administrator. Sign in to the application again."},
	ReasonPublicURLUnknown:      {http.StatusInternalServerError, "The gateway is not configured with its public address, so analytics cannot sign in. Ask your administrator to set TENANTGATE_PUBLIC_URL."},
}

// Status is the HTTP status a denial with this reason answers.
func (r Reason) Status() int {
	if i, ok := reasonInfo[r]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Message is a sentence a person understands; it never holds request data.
func (r Reason) Message() string {
	if i, ok := reasonInfo[r]; ok {
		return i.text
	}
	return reasonInfo[ReasonInternal].text
}
