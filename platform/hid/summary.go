package hid

// Usage pages and usages Summarize looks for (HID Usage Tables 1.5).
const (
	PageGenericDesktop = 0x01
	PageKeyboard       = 0x07
	PageDigitizer      = 0x0D
	PageConsumer       = 0x0C
	PageVendorFirst    = 0xFF00

	UsagePointer  = 0x01
	UsageMouse    = 0x02
	UsageKeyboard = 0x06
	UsageKeypad   = 0x07

	UsageX = PageGenericDesktop<<16 | 0x30
	UsageY = PageGenericDesktop<<16 | 0x31
)

// Summary is what a descriptor says the device is, in the terms detectors
// use. Several may be true: a KVM's single interface can be a keyboard and
// an absolute mouse at once.
type Summary struct {
	// Keyboard: a Generic Desktop Keyboard or Keypad application collection
	// with an input field on the Keyboard/Keypad page.
	Keyboard bool
	// RelativePointer: a Generic Desktop Mouse or Pointer application whose
	// X and Y inputs are relative, as every ordinary mouse's are.
	RelativePointer bool
	// AbsolutePointer: a Generic Desktop Mouse or Pointer application whose
	// X and Y inputs are absolute: the "tablet" mouse of KVM-over-IP boxes,
	// VM consoles and remote-control gadgets.
	AbsolutePointer bool
	// Digitizer: an application collection on the Digitizer page (touch
	// screen, pen, precision touchpad), which is how real touch hardware
	// reports absolute positions.
	Digitizer bool
	// Consumer: a Consumer Control application (media keys).
	Consumer bool
	// Vendor: an application collection on a vendor page (0xFF00-0xFFFF).
	Vendor bool
	// AbsMax is the largest logical maximum of an absolute X or Y input in a
	// pointer or digitizer application: 32767 for PiKVM, TinyPilot, JetKVM
	// and NanoKVM. 0 when there is none.
	AbsMax int32
}

// Summarize classifies a parsed descriptor. Nested collections count
// towards the top-level application collection they sit in.
//
// Cost: one pass over the fields.
func Summarize(d Descriptor) Summary {
	var s Summary
	var app Collection // the application collection in force
	var absXY, relXY [2]bool
	flush := func() {
		if absXY[0] && absXY[1] {
			s.AbsolutePointer = s.AbsolutePointer || isPointer(app)
		}
		if relXY[0] && relXY[1] {
			s.RelativePointer = s.RelativePointer || isPointer(app)
		}
		absXY, relXY = [2]bool{}, [2]bool{}
	}
	for _, c := range d.Collections {
		if c.Depth == 0 {
			flush()
			app = c
			switch {
			case c.UsagePage == PageConsumer && c.Kind == "application":
				s.Consumer = true
			case c.UsagePage >= PageVendorFirst:
				s.Vendor = true
			case c.UsagePage == PageDigitizer && c.Kind == "application":
				s.Digitizer = true
			}
		}
		for _, f := range c.Fields {
			if !f.Input || f.Constant {
				continue
			}
			if isKeyboard(app) && f.UsagePage == PageKeyboard {
				s.Keyboard = true
			}
			for _, u := range f.Usages {
				axis := -1
				switch u {
				case UsageX:
					axis = 0
				case UsageY:
					axis = 1
				}
				if axis < 0 {
					continue
				}
				if f.Absolute {
					absXY[axis] = true
					if (isPointer(app) || app.UsagePage == PageDigitizer) && f.LogicalMax > s.AbsMax {
						s.AbsMax = f.LogicalMax
					}
				} else {
					relXY[axis] = true
				}
			}
		}
	}
	flush()
	return s
}

func isPointer(c Collection) bool {
	return c.UsagePage == PageGenericDesktop && (c.Usage == UsageMouse || c.Usage == UsagePointer)
}

func isKeyboard(c Collection) bool {
	return c.UsagePage == PageGenericDesktop && (c.Usage == UsageKeyboard || c.Usage == UsageKeypad)
}
