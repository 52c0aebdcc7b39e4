package proxy

import (
	"net/http"

	"github.com/tenantgate/tenantgate/policy"
)

// routeEmbedSDK is modular embedding's iframe page, GET /embed/sdk/v1.
const routeEmbedSDK = "embed_sdk"

// serveEmbedSDK passes modular embedding's iframe page (GET /embed/sdk/v1,
// which embed.js opens) to a signed-in caller, as an embed page: framing
// narrowed to TENANTGATE_FRAME_ANCESTORS, no store, its body scanned for
// credentials. The page is Metabase's app shell and holds no token and no
// data: it gets its settings, and its sealed session (SSO) or handle
// (guest), from the host page by postMessage, and everything it then asks
// for takes the SSO API's or the embed API's checks. Its only query is
// embed.js's embed-js-identifier counter, rebuilt; anything else in the
// URL is refused (policy.EmbedSDKQuery), and a longer path is not this
// route (Metabase would serve it the static embed app).
func (g *Gate) serveEmbedSDK(w http.ResponseWriter, r *http.Request) {
	f, err := g.scannedPath(r).Forwardable(0)
	if err != nil || f.Route != policy.RouteEmbedSDK {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not modular embedding's iframe page"})
		return
	}
	query, err := policy.EmbedSDKQuery(r.URL.RawQuery)
	if err != nil {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "the embed.js iframe page takes only embed-js-identifier={n}"})
		return
	}
	who := g.identify(w, r)
	if who == nil {
		return
	}
	scopeOf(r).kind = kindEmbedPage
	g.decided(r, policy.Decision{Allow: true, Reason: policy.ReasonAllowed})
	g.forwardFair(w, r, who, f.Path, query)
}
