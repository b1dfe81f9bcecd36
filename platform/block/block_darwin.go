package block

import "context"

// list is not implemented on macOS yet: drives are IORegistry entries
// (IOSCSIPeripheralDeviceNub with "Vendor Identification", "Product
// Identification", "Product Revision Level") that a later version will read
// through ioreg as the usb package does.
func list(context.Context) ([]Disk, error) {
	return nil, ErrNotImplemented
}
