package catalog

import (
	"strings"
	"testing"
)

func TestDefaultCatalogLoads(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var vnc *Listener
	for i := range c.OSRemoteListeners {
		if c.OSRemoteListeners[i].ID == "vnc" {
			vnc = &c.OSRemoteListeners[i]
		}
	}
	if vnc == nil || vnc.Ports[0] != 5900 || vnc.Attack != "T1021.005" {
		t.Fatalf("vnc listener: %+v", vnc)
	}
}

func TestParseRejectsBadDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": `{"version":"1","os_remote_listeners":[],"extra":1}`,
		"bad version":   `{"version":"","os_remote_listeners":[]}`,
		"bad port":      `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[70000]}]}`,
		"no ports":      `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[]}]}`,
		"duplicate id":  `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1]},{"id":"x","name":"Y","ports":[2]}]}`,
		"bad attack":    `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1],"attack":"1021"}]}`,
		"not json":      `{"version":`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "catalog") {
			t.Errorf("%s: error without context: %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, _ := embedded.ReadFile("data/os_remote.json")
	f.Add(b)
	f.Add([]byte(`{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			return
		}
		for _, l := range c.OSRemoteListeners {
			if len(l.Ports) == 0 || l.Name == "" {
				t.Fatalf("invalid listener accepted: %+v", l)
			}
		}
	})
}
