// Package sysfstest builds captured Linux trees (sysfs and procfs files with
// their real symlink structure) for the tests of the usb, block and input
// readers, and for trying `scan --root` by hand.
//
// Trees are declared in Go rather than committed under testdata because
// sysfs names contain ':' ("1-1.2:1.0", "0003:1D6B:0104.0001"), which a
// Windows checkout cannot hold; building them at test time also keeps the
// symlinks relative and correct by construction. Write a tree with
// Tree.Write; Write fails on Windows, where such names cannot exist.
package sysfstest

import (
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Tree is a set of files and symlinks, by slash-separated path relative to
// the tree's root.
type Tree struct {
	Files map[string][]byte
	Links map[string]string // link path -> target exactly as stored
}

// New returns an empty tree.
func New() *Tree {
	return &Tree{Files: map[string][]byte{}, Links: map[string]string{}}
}

// File adds a file.
func (t *Tree) File(p string, content []byte) { t.Files[p] = content }

// Attrs adds sysfs attributes to dir from name, value pairs; each value is
// stored with the newline sysfs appends.
func (t *Tree) Attrs(dir string, kv ...string) {
	if len(kv)%2 != 0 {
		panic("sysfstest: odd attribute list")
	}
	for i := 0; i < len(kv); i += 2 {
		t.Files[dir+"/"+kv[i]] = []byte(kv[i+1] + "\n")
	}
}

// Link adds a symlink at p whose target is the relative path from p's
// directory to to (both tree paths), as sysfs stores them.
func (t *Tree) Link(p, to string) {
	rel, err := filepath.Rel(path.Dir(p), to)
	if err != nil {
		panic(err)
	}
	t.Links[p] = filepath.ToSlash(rel)
}

// RawLink adds a symlink with the target as given (absolute or escaping
// targets for hostile-tree tests).
func (t *Tree) RawLink(p, target string) { t.Links[p] = target }

// Write creates the tree under root.
func (t *Tree) Write(root string) error {
	for _, p := range sortedKeys(t.Files) {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, t.Files[p], 0o644); err != nil {
			return err
		}
	}
	for _, p := range sortedKeys(t.Links) {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(filepath.FromSlash(t.Links[p]), full); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MustHex decodes space-separated hex, as the research tables write bytes.
func MustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// USBDevice describes one device for AddUSB.
type USBDevice struct {
	Parent string // sysfs devices path of the parent ("sys/devices/pci0000:00/0000:00:14.0/usb1")
	Name   string // "1-1.2", "usb1"
	// Attrs are the device's attributes as name, value pairs.
	Attrs []string
	// Interfaces by suffix ("1.0").
	Interfaces []USBInterface
}

// USBInterface describes one interface.
type USBInterface struct {
	Suffix string // "1.0": the directory is NAME:1.0 ("1-0:1.0" for root hubs)
	Attrs  []string
	Driver string // bus/usb/drivers/NAME; "" when unbound
	// HID is the HID device directory name ("0003:1D6B:0104.0001") and
	// Report its report descriptor; HID "" for none.
	HID    string
	Report []byte
	Hidraw string // "hidraw0": adds class/hidraw links when set
}

// AddUSB adds a device under its parent with its bus/usb/devices links.
func (t *Tree) AddUSB(d USBDevice) {
	dir := d.Parent + "/" + d.Name
	t.Attrs(dir, d.Attrs...)
	t.Link("sys/bus/usb/devices/"+d.Name, dir)
	devName := d.Name
	if strings.HasPrefix(devName, "usb") { // root hub: interfaces are N-0:1.0
		devName = strings.TrimPrefix(devName, "usb") + "-0"
	}
	for _, i := range d.Interfaces {
		name := devName + ":" + i.Suffix
		idir := dir + "/" + name
		t.Attrs(idir, i.Attrs...)
		t.Link("sys/bus/usb/devices/"+name, idir)
		if i.Driver != "" {
			t.Link(idir+"/driver", "sys/bus/usb/drivers/"+i.Driver)
			t.Attrs("sys/bus/usb/drivers/"+i.Driver, "uevent", "")
		}
		if i.HID != "" {
			hdir := idir + "/" + i.HID
			t.File(hdir+"/report_descriptor", i.Report)
			t.Attrs(hdir, "country", "00")
			if i.Hidraw != "" {
				rdir := hdir + "/hidraw/" + i.Hidraw
				t.Attrs(rdir, "dev", "241:0")
				t.Link(rdir+"/device", hdir)
				t.Link("sys/class/hidraw/"+i.Hidraw, rdir)
			}
		}
	}
}

// Block describes a SCSI block device for AddBlock.
type Block struct {
	SCSIDir   string // sysfs devices path of the SCSI device (".../host6/target6:0:0/6:0:0:0")
	Name      string // "sr0", "sdb"
	Vendor    string // inquiry fields as the kernel shows them (padded)
	Model     string
	Rev       string
	Type      int
	Removable bool
	ReadOnly  bool
}

// AddBlock adds a block device, its SCSI device attributes and its
// sys/block link.
func (t *Tree) AddBlock(b Block) {
	bdir := b.SCSIDir + "/block/" + b.Name
	t.Attrs(b.SCSIDir, "vendor", b.Vendor, "model", b.Model, "rev", b.Rev, "type", fmt.Sprint(b.Type))
	t.Attrs(bdir, "removable", bit(b.Removable), "ro", bit(b.ReadOnly), "size", "0")
	t.Link(bdir+"/device", b.SCSIDir)
	t.Link("sys/block/"+b.Name, bdir)
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
