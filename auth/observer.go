package auth

// Observer receives what operators watch about identity: cache lookups
// and failures of the identity provider (JWKS endpoint, introspection
// endpoint). Its methods are called on the request path: they must be fast
// and must not block. *metrics.Metrics implements it.
type Observer interface {
	Cache(cache string, hit bool)
	ProviderError(source string)
}

type nopObserver struct{}

func (nopObserver) Cache(string, bool)   {}
func (nopObserver) ProviderError(string) {}

func observerOr(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}
