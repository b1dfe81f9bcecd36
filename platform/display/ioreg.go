package display

import (
	"fmt"
	"path"

	"howett.net/plist"
)

// edidKeys are the properties that hold an EDID, in order of preference.
// IODisplayEDIDOriginal is the EDID as the display sent it, IODisplayEDID
// the one in use (an override may replace it); Apple Silicon framebuffers
// have been reported with a plain "EDID" property, and inside their
// DisplayAttributes dictionary.
var edidKeys = []string{"IODisplayEDIDOriginal", "IODisplayEDID", "EDID"}

// maxIoregDepth bounds the walk of nested IORegistryEntryChildren.
const maxIoregDepth = 32

// parseIoreg reads the XML plist printed by `ioreg -a -l -r -c CLASS`: an
// array of the matching entries, each with its subtree under
// IORegistryEntryChildren. Every entry that has an EDID property is one
// display, "connected" and Enabled (the registry only holds displays that
// are attached now). Connector is the entry's IODisplayLocation when it
// has one (Intel), else the path of entry names ("name@location") from
// the matched entry down. Entries are keyed by IORegistryEntryID so the
// same one printed by two classes' runs is listed once; seen carries the
// ids between runs.
//
// Cost: one plist decode of the output (tens of KB per display).
func parseIoreg(out []byte, seen map[uint64]bool) ([]Display, error) {
	var roots []map[string]any
	if _, err := plist.Unmarshal(out, &roots); err != nil {
		return nil, fmt.Errorf("ioreg output: %w", err)
	}
	var ds []Display
	var walk func(node map[string]any, parent string, depth int)
	walk = func(node map[string]any, parent string, depth int) {
		if depth > maxIoregDepth {
			return
		}
		name, _ := node["IORegistryEntryName"].(string)
		if loc, ok := node["IORegistryEntryLocation"].(string); ok && loc != "" {
			name += "@" + loc
		}
		p := path.Join(parent, name)
		if raw := nodeEDID(node); raw != nil {
			id, hasID := node["IORegistryEntryID"].(uint64)
			if !hasID || !seen[id] {
				if hasID {
					seen[id] = true
				}
				conn, _ := node["IODisplayLocation"].(string)
				if conn == "" {
					conn = p
				}
				if len(raw) > maxEDIDRead {
					raw = raw[:maxEDIDRead]
				}
				ds = append(ds, withEDID(Display{Connector: conn, Status: StatusConnected, Enabled: true, Source: "ioreg"}, raw))
			}
		}
		children, _ := node["IORegistryEntryChildren"].([]any)
		for _, c := range children {
			if m, ok := c.(map[string]any); ok {
				walk(m, p, depth+1)
			}
		}
	}
	for _, r := range roots {
		walk(r, "", 0)
	}
	return ds, nil
}

// nodeEDID returns the first non-empty EDID property of an entry.
func nodeEDID(node map[string]any) []byte {
	for _, props := range []map[string]any{node, asMap(node["DisplayAttributes"])} {
		for _, k := range edidKeys {
			if b, ok := props[k].([]byte); ok && len(b) > 0 {
				return b
			}
		}
	}
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
