package configs

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks the decoded YAML document against Config's fields and
// reports every key Config does not have, by its full path, its line and
// the nearest known key ("did you mean"), instead of yaml's Go type names.
// It records the line of every known key's value in lines, so that type
// errors can name the key too.
func checkKeys(path string, n *yaml.Node, t reflect.Type, prefix string, envOf map[string]string, lines map[int]string, probs *problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
		checkKeys(path, n.Content[0], t, prefix, envOf, lines, probs)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := joinKey(prefix, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				hint, meant := suggest(k.Value, fields, prefix, envOf)
				err := fmt.Errorf("config file %s, line %d: unknown key %q%s", path, k.Line, key, hint)
				if meant != "" { // "meant is required" would be a follow-on
					probs.add(settingProblem{names: []string{meant, envOf[meant]}, err: err})
				} else {
					probs.add(err)
				}
				continue
			}
			lines[v.Line] = key
			checkKeys(path, v, ft, key, envOf, lines, probs)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			checkKeys(path, item, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i), envOf, lines, probs)
		}
	}
	// Anything else (scalars, maps with free keys, a kind that does not
	// match the field) is decode's to judge: it reports type errors.
}

// yamlFields maps a struct's YAML keys to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// suggest names the known key nearest to k (at most two edits, or a key
// that contains it), with its environment variable when it has one, and
// returns that key's path ("" when none is near).
func suggest(k string, fields map[string]reflect.Type, prefix string, envOf map[string]string) (hint, meant string) {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names) // the same suggestion every time
	for _, f := range names {
		lk := strings.ToLower(k)
		d := editDistance(lk, f)
		if d > 2 && min(len(lk), len(f)) >= 4 && (strings.Contains(f, lk) || strings.Contains(lk, f)) {
			d = 2 // listen_addr for listen, jwt_secret for jwt_secrets
		}
		if d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		return fmt.Sprintf(": the keys here are %s", strings.Join(names, ", ")), ""
	}
	full := joinKey(prefix, best)
	if env := envOf[full]; env != "" {
		return fmt.Sprintf(": did you mean %q (%s)?", full, env), full
	}
	return fmt.Sprintf(": did you mean %q?", full), full
}

// editDistance is the Levenshtein distance of two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// syntaxErrorLine finds the line a YAML syntax error is on. yaml reports
// the line where the enclosing construct began (a flow list left open on
// line 3 is reported on line 2, the line of its key), so the line is found
// instead as the first one after the longest prefix of the file that still
// parses. Only run on a file that failed to parse.
func syntaxErrorLine(data []byte) int {
	lines := strings.SplitAfter(string(data), "\n")
	ok := 0
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		if yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n) == nil {
			ok = k
		}
	}
	return ok + 1
}

// yamlMessage is yaml's error text without its "yaml: line N: " prefix.
func yamlMessage(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(s, "line ") {
		if _, rest, ok := strings.Cut(s, ": "); ok {
			return rest
		}
	}
	return s
}
