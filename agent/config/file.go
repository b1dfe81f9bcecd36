package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the config file; it holds a dozen settings.
const MaxFileSize = 64 << 10

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads agent.yaml strictly: a flat mapping of known keys to single values. Unknown or
// repeated keys, lists, mappings and aliases are problems reported at their line.
func parseYAML(path string, data []byte) ([]setting, []Problem) {
	at := func(line int) string { return path + ":" + strconv.Itoa(line) }
	if len(data) > MaxFileSize {
		return nil, []Problem{{Where: path, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxFileSize)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, []Problem{syntaxProblem(path, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, []Problem{{Where: at(extra.Line), Msg: "the config file is one YAML document; remove the second one"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, []Problem{syntaxProblem(path, err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return nil, []Problem{{Where: at(root.Line), Msg: "want `key: value` settings, one per line"}}
	}
	var out []setting
	var probs []Problem
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			probs = append(probs, Problem{Where: at(k.Line), Msg: "a key must be a plain name"})
			continue
		}
		if _, ok := lookup(k.Value); !ok {
			probs = append(probs, Problem{Where: at(k.Line), Key: k.Value, Msg: "unknown setting; known: " + strings.Join(Keys(), ", ")})
			continue
		}
		if first, dup := seen[k.Value]; dup {
			probs = append(probs, Problem{Where: at(k.Line), Key: k.Value, Msg: fmt.Sprintf("set twice (first on line %d)", first)})
			continue
		}
		seen[k.Value] = k.Line
		switch {
		case v.Kind == yaml.AliasNode:
			probs = append(probs, Problem{Where: at(v.Line), Key: k.Value, Msg: "YAML aliases are not allowed; write the value out"})
		case v.Kind != yaml.ScalarNode:
			probs = append(probs, Problem{Where: at(v.Line), Key: k.Value, Msg: "want a single value, not a list or a mapping"})
		case v.ShortTag() == "!!null":
			// `key:` with nothing after it leaves the default.
		default:
			out = append(out, setting{k.Value, v.Value, at(v.Line)})
		}
	}
	return out, probs
}

func syntaxProblem(path string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "did not find expected") {
			n++ // yaml.v3 counts these from 0
		}
		return Problem{Where: path + ":" + strconv.Itoa(n), Msg: "YAML syntax: " + m[2]}
	}
	return Problem{Where: path, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}
