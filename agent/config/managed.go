package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"howett.net/plist"
)

// ManagedPrefsDomain is the preference domain a macOS configuration profile targets
// (PayloadType com.farmwatch.agent); macOS writes its keys to
// /Library/Managed Preferences/com.farmwatch.agent.plist, which only root can change.
const ManagedPrefsDomain = "com.farmwatch.agent"

// ParseManaged reads a managed-preferences plist (XML or binary). It takes the same keys as
// agent.yaml; strings, booleans and integers are accepted and parsed like file values. Keys
// starting with "Payload" (profile bookkeeping) are ignored; any other unknown key is a problem.
// It is plain parsing, so it is tested on every OS although only macOS has such files.
func ParseManaged(path string, data []byte) ([]setting, []Problem) {
	var m map[string]any
	if _, err := plist.Unmarshal(data, &m); err != nil {
		return nil, []Problem{{Where: path, Msg: fmt.Sprintf("not a property list of settings: %v", err)}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable messages
	where := "managed preferences " + path
	var out []setting
	var probs []Problem
	for _, k := range keys {
		if strings.HasPrefix(k, "Payload") {
			continue
		}
		if _, ok := lookup(k); !ok {
			probs = append(probs, Problem{Where: where, Key: k, Msg: "unknown setting; known: " + strings.Join(Keys(), ", ")})
			continue
		}
		var s string
		switch v := m[k].(type) {
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case uint64:
			s = strconv.FormatUint(v, 10)
		case int64:
			s = strconv.FormatInt(v, 10)
		default:
			probs = append(probs, Problem{Where: where, Key: k, Msg: fmt.Sprintf("want a string or a boolean, not %T", v)})
			continue
		}
		out = append(out, setting{k, s, where})
	}
	return out, probs
}
