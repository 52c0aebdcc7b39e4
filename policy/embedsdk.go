package policy

import "strings"

// EmbedSDKPath is modular embedding's iframe page. Metabase routes exactly
// this path to it (any other /embed/* path is the static embed app), and
// embed.js opens it as {instanceUrl}/embed/sdk/v1?embed-js-identifier={n}.
// It holds no token: the page gets its settings, and its session or guest
// token, from the host page by postMessage.
const EmbedSDKPath = "/embed/sdk/v1"

// embedSDKIdentifier is the one query key of the iframe page: a counter
// embed.js adds so that the iframes of one page load in parallel.
const embedSDKIdentifier = "embed-js-identifier"

// maxIdentifierDigits bounds the counter (a page would need a billion
// embeds to pass it).
const maxIdentifierDigits = 9

// EmbedSDKQuery checks the iframe page's raw query: empty, or exactly
// embed-js-identifier={n}, n decimal without a leading zero. It returns the
// query to forward, rebuilt from n. Anything else (another key, a second
// value, an escape, a fragment of a token) is ErrQuery: the page takes
// nothing from its URL, so the gate passes nothing more.
func EmbedSDKQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	n, ok := strings.CutPrefix(raw, embedSDKIdentifier+"=")
	if !ok || n == "" || len(n) > maxIdentifierDigits || (n[0] == '0' && len(n) > 1) {
		return "", ErrQuery
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return "", ErrQuery
		}
	}
	return embedSDKIdentifier + "=" + n, nil
}
