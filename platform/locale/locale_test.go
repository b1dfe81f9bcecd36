package locale

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

func TestReadTree(t *testing.T) {
	tests := []struct {
		root string
		env  map[string]string
		want Locale
	}{
		{"testdata/debian", nil, Locale{Locale: "de_DE.UTF-8", Languages: []string{"de_DE", "en"}, Source: "/etc/default/locale"}},
		{"testdata/fedora", nil, Locale{Locale: "ko_KR.UTF-8", Languages: []string{"ko_KR"}, Source: "/etc/locale.conf"}},
		// locale.conf before /etc/default/locale; LC_ALL over LANG.
		{"testdata/both", nil, Locale{Locale: "ru_RU.UTF-8", Languages: []string{"ru_RU"}, Source: "/etc/locale.conf"}},
		// System files win over the environment.
		{"testdata/debian", map[string]string{"LANG": "fr_FR.UTF-8"}, Locale{Locale: "de_DE.UTF-8", Languages: []string{"de_DE", "en"}, Source: "/etc/default/locale"}},
		// Environment only when the files set nothing.
		{"testdata/empty", map[string]string{"LANG": "C.UTF-8"}, Locale{Locale: "C.UTF-8", Source: "environment"}},
		{"testdata/empty", map[string]string{"LANG": "pt_BR.UTF-8", "LANGUAGE": "pt_BR:pt:en"}, Locale{Locale: "pt_BR.UTF-8", Languages: []string{"pt_BR", "pt", "en"}, Source: "environment"}},
		{"testdata/empty", nil, Locale{}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			var getenv func(string) string
			if tt.env != nil {
				getenv = func(k string) string { return tt.env[k] }
			}
			got, err := readTree(tt.root, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readTree() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadTreeRejectsJunk(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "locale.conf"), []byte("LANG=\"<script>alert(1)</script>\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), root)
	if err != nil || got.Locale != "" {
		t.Errorf("Read() = %+v, %v; want empty locale", got, err)
	}
	if _, err := Read(context.Background(), filepath.Join(root, "absent")); err == nil {
		t.Error("Read(missing root) returned no error")
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"de_DE.UTF-8@euro": "de_DE", "en_US.UTF-8": "en_US", "C.UTF-8": "", "POSIX": "", "ja_JP": "ja_JP"} {
		if got := language(in); got != want {
			t.Errorf("language(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFromVars(f *testing.F) {
	f.Add("LANG=de_DE.UTF-8\nLANGUAGE=de_DE:en\n")
	f.Add("LC_ALL='ru_RU.UTF-8'\n")
	f.Fuzz(func(t *testing.T, data string) {
		root := t.TempDir()
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		if err := os.WriteFile(filepath.Join(root, "etc", "locale.conf"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := readTree(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append([]string{l.Locale}, l.Languages...) {
			if clean(s) != s || len(s) > 64 {
				t.Fatalf("unclean value %q", s)
			}
		}
	})
}

func TestReadLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live locale test is for linux")
	}
	t.Setenv("LC_ALL", "")
	t.Setenv("LANGUAGE", "")
	t.Setenv("LANG", "sv_SE.UTF-8")
	got, err := Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readTree("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.Locale == "" { // no system file: the environment must show through
		want = Locale{Locale: "sv_SE.UTF-8", Languages: []string{"sv_SE"}, Source: "environment"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read() = %+v, want %+v", got, want)
	}
}
