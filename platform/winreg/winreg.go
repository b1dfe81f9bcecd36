// Package winreg reads the live Windows registry through the small interface the platform
// readers share with recorded .reg exports (platform/regfile): String, DWord and Subkeys by a
// path such as `HKLM\SOFTWARE\...`. Tests replay exports; agents read the live registry.
package winreg
