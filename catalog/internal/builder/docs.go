package builder

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/farmwatch/farmwatch/catalog"
)

//go:embed catalog.md.tmpl
var docsTemplate string

// indicatorKinds are the per-OS columns of the coverage table.
var indicatorKinds = []struct {
	Head string
	list func(*catalog.OSIndicators) []string
}{
	{"proc", func(o *catalog.OSIndicators) []string { return o.Processes }},
	{"path", func(o *catalog.OSIndicators) []string { return o.Paths }},
	{"svc", func(o *catalog.OSIndicators) []string { return o.Services }},
	{"bundle", func(o *catalog.OSIndicators) []string { return o.BundleIDs }},
	{"pkg", func(o *catalog.OSIndicators) []string { return o.Packages }},
	{"signer", func(o *catalog.OSIndicators) []string { return o.Signers }},
}

var osColumns = []struct {
	Head string
	get  func(*catalog.Tool) *catalog.OSIndicators
}{
	{"W", func(t *catalog.Tool) *catalog.OSIndicators { return t.Windows }},
	{"M", func(t *catalog.Tool) *catalog.OSIndicators { return t.MacOS }},
	{"L", func(t *catalog.Tool) *catalog.OSIndicators { return t.Linux }},
}

type docsData struct {
	Version                                              string
	Tools, Deep, LOLRMMOnly, FarmwatchOnly, Merged       int
	Domains, Suffixes, Patterns, Addresses, Ports        int
	Sessions, Unattended, Listeners                      int
	CategoryMap                                          [][2]string
	RATKeywords                                          [][2]string
	PlatformSigners, SharedDomains                       string
	Stats                                                *Stats
	Header, Rule                                         string
	Rows                                                 []string
	Categories, PortRoles, SessionKinds, OSNames, Origin string
	HW                                                   hwDocs
}

func renderDocs(c *catalog.Catalog, st *Stats) ([]byte, error) {
	d := docsData{
		Version: c.Version, Tools: len(c.RemoteTools), Listeners: len(c.OSRemoteListeners), Stats: st,
		SharedDomains:   strings.Join(sharedDomains, ", "),
		PlatformSigners: strings.Join(platformSigners, ", "),
		Categories:      strings.Join(catalog.Categories, ", "),
		PortRoles:       strings.Join(catalog.PortRoles, ", "),
		SessionKinds:    strings.Join(catalog.SessionKinds, ", "),
		OSNames:         strings.Join(catalog.OSNames, ", "),
		Origin:          strings.Join(catalog.Origins, ", "),
		HW:              renderHardware(&c.Hardware),
	}
	for _, k := range []string{"RAT", "RMM"} {
		d.CategoryMap = append(d.CategoryMap, [2]string{k, categoryMap[k]})
	}
	for _, k := range ratKeywords {
		d.RATKeywords = append(d.RATKeywords, [2]string{k.word, k.category})
	}
	head := []string{"tool", "origin"}
	for _, o := range osColumns {
		for _, k := range indicatorKinds {
			head = append(head, o.Head+" "+k.Head)
		}
	}
	head = append(head, "domains", "ports", "session", "unattended")
	d.Header = "| " + strings.Join(head, " | ") + " |"
	d.Rule = strings.Repeat("|---", len(head)) + "|"
	rest := make([]int, len(head)-2)
	restN := 0
	for i := range c.RemoteTools {
		t := &c.RemoteTools[i]
		n := &t.Network
		d.Domains += len(n.Domains)
		d.Suffixes += len(n.DomainSuffixes)
		d.Patterns += len(n.DomainPatterns)
		d.Addresses += len(n.Addresses)
		d.Ports += len(n.Ports)
		d.Sessions += len(t.Session)
		d.Unattended += len(t.Unattended)
		switch t.Origin {
		case "lolrmm":
			d.LOLRMMOnly++
		case "farmwatch":
			d.FarmwatchOnly++
		default:
			d.Merged++
		}
		counts := coverage(t)
		if !t.Deep {
			restN++
			for j, v := range counts {
				if v > 0 {
					rest[j]++
				}
			}
			continue
		}
		d.Deep++
		cells := []string{fmt.Sprintf("%s (`%s`)", t.Name, t.ID), t.Origin}
		for _, v := range counts {
			cells = append(cells, cell(v))
		}
		d.Rows = append(d.Rows, "| "+strings.Join(cells, " | ")+" |")
	}
	cells := []string{fmt.Sprintf("*%d other entries: how many have any*", restN), "·"}
	for _, v := range rest {
		cells = append(cells, cell(v))
	}
	d.Rows = append(d.Rows, "| "+strings.Join(cells, " | ")+" |")

	tmpl, err := template.New("catalog.md").Parse(docsTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// coverage counts a tool's indicators in table-column order.
func coverage(t *catalog.Tool) []int {
	var out []int
	for _, o := range osColumns {
		ind := o.get(t)
		for _, k := range indicatorKinds {
			if ind == nil {
				out = append(out, 0)
			} else {
				out = append(out, len(k.list(ind)))
			}
		}
	}
	n := &t.Network
	return append(out, len(n.Domains)+len(n.DomainSuffixes)+len(n.DomainPatterns), len(n.Ports), len(t.Session), len(t.Unattended))
}

func cell(v int) string {
	if v == 0 {
		return "·"
	}
	return fmt.Sprint(v)
}
