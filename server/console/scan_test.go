package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

// agentsOnline records pushes like the collector does for the devices it has streams for;
// for the others the collector keeps the scan for their next heartbeat and reports false.
type agentsOnline struct {
	online map[string]bool
	pushed []*pb.Push
}

func (a *agentsOnline) Push(id string, p *pb.Push) bool {
	if !a.online[id] {
		return false
	}
	a.pushed = append(a.pushed, p)
	return true
}

func TestScanNowPushesOrQueues(t *testing.T) {
	h := newHarness(t, false)
	agents := &agentsOnline{online: map[string]bool{devOnline: true}}
	c, err := New(Options{Store: h.store, Now: h.clock.Now, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = c.Handler()
	h.enroll(devOnline, "online-laptop", "linux", t0)
	h.enroll(devOffline, "offline-laptop", "linux", t0)
	h.addUser("ana", "correct horse battery staple", false)
	viewerHash, _ := account.Hash("correct horse battery staple")
	if err := h.store.CreateUser(context.Background(), store.User{Username: "vic", PasswordHash: viewerHash, Role: store.RoleViewer, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	cl := h.client()
	h.login(cl, "ana", "correct horse battery staple")
	page := h.get(cl, "/devices/"+devOnline)
	if !strings.Contains(page.Body, `action="/devices/`+devOnline+`/scan"`) {
		t.Fatal("no Scan now button on the device page")
	}
	csrf := h.csrfToken(page.Body)

	res := h.post(cl, "/devices/"+devOnline+"/scan", url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/devices/"+devOnline+"?scan=sent" {
		t.Fatalf("scan online: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if len(agents.pushed) != 1 || agents.pushed[0].GetScanNow().GetRequestedBy() != "ana" {
		t.Fatalf("pushes: %v", agents.pushed)
	}
	if !strings.Contains(h.get(cl, "/devices/"+devOnline+"?scan=sent").Body, "Scan requested") {
		t.Error("no confirmation shown")
	}
	if body := h.get(cl, "/devices/"+devOnline+"?scan=<script>").Body; strings.Contains(body, "<script>") {
		t.Error("scan parameter echoed")
	}

	res = h.post(cl, "/devices/"+devOffline+"/scan", url.Values{"csrf": {csrf}})
	if res.Header.Get("Location") != "/devices/"+devOffline+"?scan=queued" || len(agents.pushed) != 1 {
		t.Fatalf("scan offline: %s, pushes %d", res.Header.Get("Location"), len(agents.pushed))
	}
	if !strings.Contains(h.get(cl, "/devices/"+devOffline+"?scan=queued").Body, "next heartbeat") {
		t.Error("no queued notice shown")
	}
	if res := h.post(cl, "/devices/"+devOnline+"/scan", url.Values{"csrf": {"wrong"}}); res.StatusCode != http.StatusForbidden || len(agents.pushed) != 1 {
		t.Fatalf("scan without CSRF token: %d", res.StatusCode)
	}
	if res := h.post(cl, "/devices/ffffffffffffffffffffffffffffffff/scan", url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("scan of unknown device: %d", res.StatusCode)
	}
	log, _ := h.store.AuditLog(context.Background(), 10)
	if log[0].Action != "device.scan_now" || log[0].Detail != "queued" || log[1].Target != devOnline || log[1].Detail != "sent" {
		t.Fatalf("audit: %+v", log[:2])
	}

	viewer := h.client()
	h.login(viewer, "vic", "correct horse battery staple")
	vcsrf := h.csrfToken(h.get(viewer, "/devices/"+devOnline).Body)
	if res := h.post(viewer, "/devices/"+devOnline+"/scan", url.Values{"csrf": {vcsrf}}); res.StatusCode != http.StatusForbidden || len(agents.pushed) != 1 {
		t.Fatalf("viewer scan: %d, pushes %d", res.StatusCode, len(agents.pushed))
	}
}

const (
	devOnline  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	devOffline = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestDevicePageShowsHardwareKeyboardsAndLAN(t *testing.T) {
	h := newHarness(t, false)
	h.enroll(devOnline, "farm-01", "linux", t0)
	h.ingest(devOnline, &pb.Report{Sequence: 1, Created: timestamppb.New(t0), Facts: &pb.Facts{
		UsbDevices: []*pb.UsbDevice{{VendorId: 0x1d6b, ProductId: 0x0104, Manufacturer: "PiKVM", Product: "PiKVM Composite Device<script>x</script>", Serial: "CAFEBABE",
			Interfaces: []*pb.UsbInterface{{Class: 3, HidKeyboard: true}, {Class: 3, HidAbsolutePointer: true, HidAbsoluteMax: 32767}, {Class: 8}}}},
		Displays:     []*pb.Display{{Connector: "card0-HDMI-A-1", Status: "connected", Manufacturer: "LNX", ProductCode: 0x7773, Name: "PiKVM V4 Plus", SerialString: "CAFEBABE", PreferredMode: "1920x1080@60"}},
		InputSources: []*pb.InputSource{{Id: "kr(kr104)", Language: "ko-KR", Kind: "layout", Source: "/etc/default/keyboard"}},
		Lan:          &pb.Lan{Gateways: []*pb.LanHost{{Ip: "192.168.1.1", Mac: "a4:2b:b0:11:22:33", Interface: "wlp0s20f3"}}, Neighbours: []*pb.LanHost{{Ip: "192.168.1.23"}}},
	}}, t0)
	cl := h.client()
	h.addUser("ana", "correct horse battery staple", false)
	h.login(cl, "ana", "correct horse battery staple")
	body := h.get(cl, "/devices/"+devOnline).Body
	for _, want := range []string{"1d6b:0104", "keyboard, absolute pointer (0..32767), mass storage", "PiKVM V4 Plus", "LNX 7773", "kr(kr104)", "ko-KR layout", "a4:2b:b0:11:22:33 on wlp0s20f3",
		"PiKVM Composite Device&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>x</script>") {
		t.Error("USB product string not escaped")
	}
}
