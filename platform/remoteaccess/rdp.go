package remoteaccess

// regReader is the part of the registry the RDP reader needs. The live
// registry implements it on Windows; *regfile.Hive implements it on every OS
// so rdpConfig is tested on recorded .reg exports. Paths are full, with an
// abbreviated root (`HKLM\SYSTEM\...`).
type regReader interface {
	String(path, name string) (string, bool)
	DWord(path, name string) (uint32, bool)
	Subkeys(path string) []string
}

const (
	tsKey     = `HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server`
	rdpTcpKey = tsKey + `\WinStations\RDP-Tcp`
	tsPolicy  = `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services`
)

// rdpConfig reads the RDP server configuration; nil when the Terminal
// Server key holds nothing at all (not a Windows registry).
func rdpConfig(r regReader) *RDPConfig {
	deny, found := r.DWord(tsKey, "fDenyTSConnections")
	if !found && r.Subkeys(tsKey) == nil {
		return nil
	}
	c := &RDPConfig{Port: 3389, Source: tsKey}
	if v, ok := r.DWord(tsPolicy, "fDenyTSConnections"); ok {
		deny, c.Source, found = v, tsPolicy, true
	}
	if !found {
		deny = 1 // Windows' default
	}
	c.Enabled = deny == 0
	if v, ok := r.DWord(rdpTcpKey, "PortNumber"); ok && v > 0 && v < 65536 {
		c.Port = v
	}
	nla, _ := r.DWord(rdpTcpKey, "UserAuthentication")
	if v, ok := r.DWord(tsPolicy, "UserAuthentication"); ok {
		nla = v
	}
	c.NLA = nla == 1
	c.Shadow, _ = r.DWord(rdpTcpKey, "Shadow")
	if v, ok := r.DWord(tsPolicy, "Shadow"); ok {
		c.Shadow = v
	}
	return c
}
