package api

import (
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/farmwatch/farmwatch/server/store"
)

type oaParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type oaOperation struct {
	Parameters []oaParam       `yaml:"parameters"`
	Responses  map[string]any  `yaml:"responses"`
	Request    *map[string]any `yaml:"requestBody"`
}

type oaSchema struct {
	Properties map[string]any `yaml:"properties"`
	Required   []string       `yaml:"required"`
}

type oaSpec struct {
	OpenAPI string `yaml:"openapi"`
	Servers []struct {
		URL string `yaml:"url"`
	} `yaml:"servers"`
	Paths      map[string]map[string]oaOperation `yaml:"paths"`
	Components struct {
		Parameters      map[string]oaParam  `yaml:"parameters"`
		Schemas         map[string]oaSchema `yaml:"schemas"`
		SecuritySchemes map[string]struct {
			Type   string `yaml:"type"`
			Scheme string `yaml:"scheme"`
		} `yaml:"securitySchemes"`
	} `yaml:"components"`
}

func loadSpec(t *testing.T) (oaSpec, map[string]any) {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var s oaSpec
	if err := yaml.Unmarshal(b, &s); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return s, raw
}

func testAPI(t *testing.T) *API {
	t.Helper()
	a, err := New(Options{Store: &store.SQLite{}, Policy: &controller{}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestOpenAPIDescribesExactlyTheServedRoutes(t *testing.T) {
	s, _ := loadSpec(t)
	if s.OpenAPI != "3.0.3" || len(s.Servers) != 1 || s.Servers[0].URL+"/" != Prefix {
		t.Fatalf("openapi %q, servers %+v", s.OpenAPI, s.Servers)
	}
	if b := s.Components.SecuritySchemes["bearer"]; b.Type != "http" || b.Scheme != "bearer" {
		t.Fatalf("bearer security scheme = %+v", b)
	}
	served := map[string]route{}
	for _, rt := range testAPI(t).routes {
		served[rt.method+" /"+rt.path] = rt
	}
	documented := map[string]oaOperation{}
	for path, ops := range s.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}
	for k := range served {
		if _, ok := documented[k]; !ok {
			t.Errorf("%s is served but not in docs/openapi.yaml", k)
		}
	}
	for k, op := range documented {
		rt, ok := served[k]
		if !ok {
			t.Errorf("%s is in docs/openapi.yaml but not served", k)
			continue
		}
		var query, path []string
		for _, p := range op.Parameters {
			if p.Ref != "" {
				name, _ := strings.CutPrefix(p.Ref, "#/components/parameters/")
				var ok bool
				if p, ok = s.Components.Parameters[name]; !ok {
					t.Errorf("%s: parameter %s does not resolve", k, p.Ref)
					continue
				}
			}
			switch p.In {
			case "query":
				query = append(query, p.Name)
			case "path":
				path = append(path, p.Name)
			}
		}
		want := slices.Clone(rt.params)
		sort.Strings(want)
		sort.Strings(query)
		if !slices.Equal(query, want) {
			t.Errorf("%s: documented query parameters %v, served %v", k, query, want)
		}
		if hasID := strings.Contains(rt.path, "{id}"); hasID != slices.Equal(path, []string{"id"}) {
			t.Errorf("%s: documented path parameters %v", k, path)
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s: no 401 response documented", k)
		}
		if _, ok := op.Responses["403"]; rt.role != store.RoleViewer && !ok {
			t.Errorf("%s: needs %s but documents no 403", k, rt.role)
		}
		if (rt.method != http.MethodGet) != (op.Request != nil) {
			t.Errorf("%s: request body documented = %v", k, op.Request != nil)
		}
	}
}

// TestOpenAPIRefsResolve walks the whole document: every $ref must name a component.
func TestOpenAPIRefsResolve(t *testing.T) {
	_, raw := loadSpec(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "$ref" {
					ref, _ := c.(string)
					var node any = raw
					for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
						m, _ := node.(map[string]any)
						node = m[part]
					}
					if !strings.HasPrefix(ref, "#/") || node == nil {
						t.Errorf("%s: $ref %q does not resolve", at, ref)
					}
					continue
				}
				walk(c, at+"/"+k)
			}
		case []any:
			for _, c := range v {
				walk(c, at)
			}
		}
	}
	walk(raw, "")
}

// jsonFields lists the JSON names of a struct's fields, embedded structs' included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			out = append(out, jsonFields(f.Type)...)
		case name != "" && name != "-" && f.IsExported():
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestOpenAPISchemasMatchTheWireTypes(t *testing.T) {
	s, _ := loadSpec(t)
	for schema, v := range map[string]any{
		"Device": deviceJSON{}, "DeviceDetail": deviceDetailJSON{}, "DeviceList": deviceList{}, "Finding": findingJSON{},
		"Note": noteJSON{}, "Cluster": clusterJSON{}, "ClusterLink": linkJSON{}, "PolicyRecord": policyRecordJSON{},
		"AuditEntry": auditJSON{}, "PolicyProblem": problemJSON{}, "Triage": triageJSON{}, "TriageRequest": triageRequest{},
	} {
		sc, ok := s.Components.Schemas[schema]
		if !ok {
			t.Errorf("schema %s missing", schema)
			continue
		}
		var props []string
		for p := range sc.Properties {
			props = append(props, p)
		}
		slices.Sort(props)
		if want := jsonFields(reflect.TypeOf(v)); !slices.Equal(props, want) {
			t.Errorf("schema %s has properties %v, the API sends %v", schema, props, want)
		}
		for _, r := range sc.Required {
			if !slices.Contains(props, r) {
				t.Errorf("schema %s requires %s, which it does not define", schema, r)
			}
		}
	}
}

// TestEveryDocumentedOperationIsRouted sends each documented operation to the handler: none may
// fall through to "no such endpoint" or "method not allowed".
func TestEveryDocumentedOperationIsRouted(t *testing.T) {
	e := newEnv(t)
	e.addDevice(devSpec{n: 1, hostname: "a"})
	s, _ := loadSpec(t)
	for path, ops := range s.Paths {
		for method := range ops {
			p := strings.ReplaceAll(path, "{id}", deviceID(1))
			r := e.do(store.RoleAdmin, strings.ToUpper(method), "/api/v1"+p, "application/json", []byte(`{}`))
			if r.status == http.StatusMethodNotAllowed || r.status == http.StatusNotFound && strings.Contains(string(r.body), "no such endpoint") {
				t.Errorf("%s %s: %d %s", method, path, r.status, r.body)
			}
		}
	}
}
