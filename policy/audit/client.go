package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of Client. Each means the audit could not be completed, so nothing
// it would have read may be called safe.
var (
	// ErrUnreachable: Metabase did not answer (dial, timeout, TLS).
	ErrUnreachable = errors.New("metabase unreachable")
	// ErrUnauthorized: Metabase refused the API key (401).
	ErrUnauthorized = errors.New("metabase refused the API key")
	// ErrForbidden: the API key is valid but not an administrator's (403).
	ErrForbidden = errors.New("the API key lacks administrator rights")
	// ErrUnexpected: any other answer the audit cannot read.
	ErrUnexpected = errors.New("unexpected answer from metabase")
)

// maxBody bounds what one admin API answer may hold.
const maxBody = 32 << 20

// Client reads Metabase's admin API with an API key (X-API-Key).
type Client struct {
	// BaseURL is Metabase's address (METABASE_SITE_URL).
	BaseURL *url.URL
	// APIKey is an API key of the Administrators group: the admin API
	// filters by permissions, and the listings need the setting permission.
	APIKey string
	// HTTP sends the requests; nil means a client with a 30 s timeout.
	HTTP *http.Client
}

// NewClient returns a Client for the Metabase at siteURL.
func NewClient(siteURL, apiKey string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(siteURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("audit: Metabase site URL %q is not an absolute http(s) URL", siteURL)
	}
	if apiKey == "" {
		return nil, errors.New("audit: no Metabase API key (METABASE_API_KEY)")
	}
	return &Client{BaseURL: u, APIKey: apiKey, HTTP: hc}, nil
}

// Run reads what cfg needs from Metabase and checks it: the whole audit.
func (c *Client) Run(ctx context.Context, cfg Config) (*Report, error) {
	snap, err := c.Snapshot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Check(cfg, snap), nil
}

// Snapshot reads the listings, every embeddable or policy dashboard and
// question, the database metadata and, with cfg.SSO, the groups, the data
// permission graph and the sandboxes. Any answer it cannot read fails the whole snapshot.
func (c *Client) Snapshot(ctx context.Context, cfg Config) (*Snapshot, error) {
	s := &Snapshot{Dashboards: map[int]*Dashboard{}, Cards: map[int]*Card{}}
	for _, l := range []struct {
		path     string
		dst      *[]Listed
		optional string // a 400 with this meaning: the list is empty
	}{
		{"/api/dashboard/embeddable", &s.EmbeddableDashboards, ""},
		{"/api/card/embeddable", &s.EmbeddableCards, ""},
		{"/api/dashboard/public", &s.PublicDashboards, "public sharing is off"},
		{"/api/card/public", &s.PublicCards, "public sharing is off"},
	} {
		status, err := c.get(ctx, l.path, l.dst, http.StatusBadRequest)
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusBadRequest && l.optional != "":
			*l.dst = nil
		case status == http.StatusBadRequest:
			return nil, fmt.Errorf("%w: GET %s answered 400: is static embedding enabled (Admin settings > Embedding)?", ErrUnexpected, l.path)
		}
	}
	dashIDs, cardIDs := map[int]bool{}, map[int]bool{}
	for _, l := range s.EmbeddableDashboards {
		dashIDs[l.ID] = true
	}
	for _, l := range s.EmbeddableCards {
		cardIDs[l.ID] = true
	}
	for _, r := range cfg.Policy {
		if r.Kind == KindDashboard {
			dashIDs[r.ID] = true
		} else {
			cardIDs[r.ID] = true
		}
	}
	for _, id := range sortedKeys(dashIDs) {
		var d Dashboard
		status, err := c.get(ctx, "/api/dashboard/"+strconv.Itoa(id), &d, http.StatusNotFound)
		if err != nil {
			return nil, err
		}
		s.Dashboards[id] = nil
		if status == http.StatusOK {
			s.Dashboards[id] = &d
		}
	}
	for _, id := range sortedKeys(cardIDs) {
		var cd Card
		status, err := c.get(ctx, "/api/card/"+strconv.Itoa(id), &cd, http.StatusNotFound)
		if err != nil {
			return nil, err
		}
		s.Cards[id] = nil
		if status == http.StatusOK {
			s.Cards[id] = &cd
		}
	}
	var dbs struct {
		Data []Database `json:"data"`
	}
	if _, err := c.get(ctx, "/api/database", &dbs); err != nil {
		return nil, err
	}
	for _, db := range dbs.Data {
		var md Database
		// Hidden tables are still queryable (SQL, existing cards), so the
		// metadata must list them.
		if _, err := c.get(ctx, "/api/database/"+strconv.Itoa(db.ID)+"/metadata?include_hidden=true", &md); err != nil {
			return nil, err
		}
		s.Databases = append(s.Databases, md)
	}
	if cfg.SSO != nil {
		if _, err := c.get(ctx, "/api/permissions/group", &s.Groups); err != nil {
			return nil, err
		}
		// The graph is what SSO users may view, group by group; without it
		// no table can be called safe, so a failure fails the audit.
		var g PermissionGraph
		if _, err := c.get(ctx, "/api/permissions/graph", &g); err != nil {
			return nil, err
		}
		s.Permissions = &g
		if _, err := c.get(ctx, "/api/mt/gtap", &s.Sandboxes); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// get decodes the JSON answer to GET path into dst. It returns the status:
// 200, or one of also, for which dst is left alone.
func (c *Client) get(ctx context.Context, path string, dst any, also ...int) (int, error) {
	u := *c.BaseURL
	p, query, _ := strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + p
	u.RawPath, u.RawQuery = "", query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("audit: building GET %s: %w", path, err)
	}
	req.Header.Set("X-API-Key", c.APIKey)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The error names the URL, never the key.
		return 0, fmt.Errorf("%w: GET %s: %v", ErrUnreachable, path, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, fmt.Errorf("%w: reading GET %s: %v", ErrUnreachable, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized:
		return 0, fmt.Errorf("%w: GET %s answered 401: check METABASE_API_KEY", ErrUnauthorized, path)
	case resp.StatusCode == http.StatusForbidden:
		return 0, fmt.Errorf("%w: GET %s answered 403 (%s): use a key of the Administrators group", ErrForbidden, path, snippet(body))
	case containsInt(also, resp.StatusCode):
		return resp.StatusCode, nil
	default:
		return 0, fmt.Errorf("%w: GET %s answered %s (%s)", ErrUnexpected, path, resp.Status, snippet(body))
	}
	if len(body) > maxBody {
		return 0, fmt.Errorf("%w: GET %s answered more than %d bytes", ErrUnexpected, path, maxBody)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return 0, fmt.Errorf("%w: GET %s is not the JSON the audit expects: %v", ErrUnexpected, path, err)
	}
	return http.StatusOK, nil
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// snippet is the start of an error body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strconv.Quote(s)
}
