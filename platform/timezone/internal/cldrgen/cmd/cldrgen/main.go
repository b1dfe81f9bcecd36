// Command cldrgen writes platform/timezone/windowszones.csv from the CLDR
// files in platform/timezone/internal/cldrgen/testdata. Run it through
// go generate in platform/timezone.
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/farmwatch/farmwatch/platform/timezone/internal/cldrgen"
)

func main() {
	dir := flag.String("in", "internal/cldrgen", "directory of the cldrgen package (inputs under testdata/)")
	out := flag.String("o", "windowszones.csv", "output file")
	flag.Parse()
	wz, err := os.ReadFile(filepath.Join(*dir, cldrgen.WindowsZonesFile))
	if err != nil {
		log.Fatal(err)
	}
	tz, err := os.ReadFile(filepath.Join(*dir, cldrgen.BCP47TimezoneFile))
	if err != nil {
		log.Fatal(err)
	}
	b, err := cldrgen.Generate(wz, tz)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
