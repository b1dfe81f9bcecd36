package envfile

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{
			name: "debian os-release",
			in: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"
`,
			want: map[string]string{
				"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)",
				"NAME":        "Debian GNU/Linux",
				"VERSION_ID":  "12",
				"ID":          "debian",
				"HOME_URL":    "https://www.debian.org/",
			},
		},
		{
			name: "comments blanks export and single quotes",
			in:   "# generated\n\n  export LANG='de_DE.UTF-8'\nLANGUAGE=de_DE:en\n",
			want: map[string]string{"LANG": "de_DE.UTF-8", "LANGUAGE": "de_DE:en"},
		},
		{
			name: "escapes inside double quotes",
			in:   `A="x \"y\" \$z \\ w"`,
			want: map[string]string{"A": `x "y" $z \ w`},
		},
		{
			name: "later assignment wins",
			in:   "LANG=C\nLANG=fr_FR.UTF-8\n",
			want: map[string]string{"LANG": "fr_FR.UTF-8"},
		},
		{
			name: "trailing comment after bare value",
			in:   "LANG=C.UTF-8 # set by installer\n",
			want: map[string]string{"LANG": "C.UTF-8"},
		},
		{
			name: "junk lines and bad keys are skipped",
			in:   "not an assignment\n1X=bad\n=empty\nBAD-KEY=x\nGOOD=1\r\n",
			want: map[string]string{"GOOD": "1"},
		},
		{
			name: "unterminated quote keeps the rest",
			in:   `ID="fedora`,
			want: map[string]string{"ID": "fedora"},
		},
		{
			name: "empty value",
			in:   "VARIANT=\n",
			want: map[string]string{"VARIANT": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse([]byte(tt.in))
			if !maps.Equal(got, tt.want) {
				t.Errorf("Parse() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "os-release")
	big := make([]byte, 0, MaxSize+100)
	big = append(big, "ID=first\n"...)
	for len(big) < MaxSize {
		big = append(big, "# padding padding padding\n"...)
	}
	big = append(big, "\nBEYOND=limit\n"...)
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got["ID"] != "first" {
		t.Errorf("ID = %q, want first", got["ID"])
	}
	if _, ok := got["BEYOND"]; ok {
		t.Errorf("key past MaxSize was parsed: %q", got)
	}
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("ID=debian\nVERSION_ID=\"12\"\n"))
	f.Add([]byte("export LANG='en_US.UTF-8' # c\nLANGUAGE=en_US:en\n"))
	f.Add([]byte(`A="\"\\` + "\n'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Parse(data)
		for k, v := range got {
			if !validKey(k) {
				t.Fatalf("invalid key %q returned", k)
			}
			if len(v) > len(data) {
				t.Fatalf("value %q longer than input", v)
			}
			if utf8.Valid(data) && !utf8.ValidString(v) {
				t.Fatalf("valid UTF-8 input produced invalid value %q", v)
			}
		}
	})
}
