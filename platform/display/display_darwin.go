package display

import (
	"context"
	"errors"
	"fmt"

	"github.com/farmwatch/farmwatch/platform/ioreg"
)

// ioregClasses are the IORegistry classes whose subtrees the macOS reader
// prints with `ioreg -a -l -r -c CLASS`: IODisplayConnect on Intel Macs (its
// AppleDisplay child holds IODisplayEDID), AppleCLCD2 and
// IOMobileFramebufferShim on Apple Silicon (the framebuffer itself holds
// the EDID of the attached display). Which Apple Silicon class carries the
// external display's EDID differs between reports and macOS versions, so
// both are asked and duplicates dropped.
var ioregClasses = []string{"IODisplayConnect", "AppleCLCD2", "IOMobileFramebufferShim"}

// list runs ioreg once per class of ioregClasses (reaching IOKit without
// cgo is what ioreg is for) and parses each output.
func list(ctx context.Context) ([]Display, error) {
	var ds []Display
	var errs []error
	seen := map[uint64]bool{}
	for _, class := range ioregClasses {
		out, err := runIoreg(ctx, class)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(out) == 0 {
			continue // no entry of this class on this Mac
		}
		d, err := parseIoreg(out, seen)
		if err != nil {
			errs = append(errs, fmt.Errorf("ioreg -c %s: %w", class, err))
		}
		ds = append(ds, d...)
	}
	return ds, errors.Join(errs...)
}

// runIoreg returns the XML plist of the subtrees of class.
func runIoreg(ctx context.Context, class string) ([]byte, error) {
	return ioreg.Run(ctx, "-a", "-l", "-r", "-c", class)
}
