package configs

// The Dockerfile and .dockerignore at the repository's root (issue 14): base
// images pinned by digest or saying how to pin them, and a build context
// that holds what the build reads and leaves the rest out.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var digestRE = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// TestDockerfileBaseImagesArePinnedOrSayHow checks every FROM: a digest, or
// the comment right above it giving the command that reads the image's
// digest, and README's section on updating them.
func TestDockerfileBaseImagesArePinnedOrSayHow(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var comment []string // the comment lines right above the current line
	froms := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			comment = append(comment, line)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 && strings.EqualFold(fields[0], "FROM") {
			froms++
			image := fields[1]
			for i := 1; strings.HasPrefix(image, "--") && i+1 < len(fields); i++ {
				image = fields[i+1] // skip --platform=...
			}
			how := "docker buildx imagetools inspect " + strings.SplitN(image, "@", 2)[0]
			if !digestRE.MatchString(image) && !strings.Contains(strings.Join(comment, "\n"), how) {
				t.Errorf("FROM %s: pin it by digest (@sha256:...), or say right above it how to: # To pin: %s", image, how)
			}
		}
		comment = nil
	}
	if froms == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
	if !readmeAnchors(t)["updating-the-base-images"] {
		t.Error(`README has no section "Updating the base images", which the Dockerfile points to`)
	}
}

// dockerignore is a .dockerignore: patterns relative to the context's
// root, ** for any number of directories, ! for exceptions, the last
// matching pattern winning; a pattern that matches a directory excludes
// what is under it.
type dockerignore []struct {
	re     *regexp.Regexp
	except bool
}

func readDockerignore(t *testing.T, path string) dockerignore {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseDockerignore(string(data))
}

func parseDockerignore(text string) dockerignore {
	var d dockerignore
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		except := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p); i++ {
			switch {
			case strings.HasPrefix(p[i:], "**/"):
				re.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(p[i:], "**"):
				re.WriteString(".*")
				i++
			case p[i] == '*':
				re.WriteString("[^/]*")
			case p[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		}
		re.WriteString("(?:/.*)?$") // and everything under it
		d = append(d, struct {
			re     *regexp.Regexp
			except bool
		}{regexp.MustCompile(re.String()), except})
	}
	return d
}

// excludes reports whether path (slash-separated, relative to the root)
// stays out of the build context.
func (d dockerignore) excludes(path string) bool {
	out := false
	for _, p := range d {
		if p.re.MatchString(path) {
			out = !p.except
		}
	}
	return out
}

func TestDockerignoreMatching(t *testing.T) {
	d := parseDockerignore("# a comment\n**/*_test.go\n/configs/helm\n*.md\n!keep.md\n")
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"a_test.go", true}, {"proxy/gate_test.go", true}, {"proxy/gate.go", false},
		{"configs/helm/tenantgate/values.yaml", true}, {"configs/helmet.go", false},
		{"README.md", true}, {"docs/README.md", false}, {"keep.md", false},
	} {
		if got := d.excludes(tc.path); got != tc.want {
			t.Errorf("excludes(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestDockerignoreKeepsWhatTheBuildReads lists, with go list, every file
// `go build ./cmd/tenantgate` reads in this module (as the Dockerfile builds
// it: CGO_ENABLED=0, linux), and checks .dockerignore keeps each and leaves
// out the repository's history, CI, tests and other local files.
func TestDockerignoreKeepsWhatTheBuildReads(t *testing.T) {
	d := readDockerignore(t, "../.dockerignore")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$.Dir}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"./cmd/tenantgate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	read := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, filepath.ToSlash(rel))
	}
	if len(read) < 10 {
		t.Fatalf("go list found only %v", read)
	}
	for _, f := range read {
		if d.excludes(f) {
			t.Errorf(".dockerignore leaves out %s, which the build reads", f)
		}
	}
	for _, f := range []string{".git/HEAD", ".ci/run", "configs/deploy_test.go", "proxy/metabasetest/testdata/x.json",
		"artifacts/desktop.png", "node_modules/x/index.js", "tenantgate", "configs/helm/tenantgate/Chart.yaml"} {
		if !d.excludes(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}
