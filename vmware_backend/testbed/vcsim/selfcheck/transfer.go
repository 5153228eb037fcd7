package main

// Checks of patch 0030 (disk transfer through HttpNfcLease): ImportVApp
// upload of a streamOptimized disk, ExportVm / ExportSnapshot download,
// HttpNfcLeaseProgress / Complete / Abort, the lease timeout, the session
// cookie on the disk URLs. qemu-img (Debian qemu-utils) is the independent
// judge of the VMDK streams: it makes the uploaded stream and reads back the
// downloaded one.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

const transferDiskKB = 4096 // 4 MiB disk; the image is 3 MiB

func leaseOf(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) mo.HttpNfcLease {
	var l mo.HttpNfcLease
	must(property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"state", "info", "error", "transferProgress"}, &l), "lease properties")
	return l
}

func sessionCookie(c *vim25.Client) *http.Cookie {
	for _, k := range c.Client.Jar.Cookies(c.URL()) {
		if k.Name == "vmware_soap_session" {
			return k
		}
	}
	panic("no session cookie")
}

func nfcDo(c *vim25.Client, method, url string, body []byte, cookie bool) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	must(err, "nfc request")
	if cookie {
		req.AddCookie(sessionCookie(c))
	}
	res, err := http.DefaultClient.Do(req)
	must(err, "nfc "+method)
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

func importSpec(name, ds string) *types.VirtualMachineImportSpec {
	var devices object.VirtualDeviceList
	scsi, _ := devices.CreateSCSIController("lsilogic")
	devices = append(devices, scsi)
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, "")
	disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName = "[" + ds + "]"
	disk.CapacityInKB = transferDiskKB
	devices = append(devices, disk)
	changes, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	must(err, "import config spec")
	for _, ch := range changes {
		if _, ok := ch.GetVirtualDeviceConfigSpec().Device.(*types.VirtualDisk); ok {
			ch.GetVirtualDeviceConfigSpec().FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
		}
	}
	return &types.VirtualMachineImportSpec{ConfigSpec: types.VirtualMachineConfigSpec{
		Name: name, GuestId: "otherGuest",
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
		DeviceChange: changes,
	}}
}

func importVApp(ctx context.Context, c *vim25.Client, pool, folder types.ManagedObjectReference, name string) types.ManagedObjectReference {
	res, err := methods.ImportVApp(ctx, c, &types.ImportVApp{This: pool, Spec: importSpec(name, "LocalDS_0"), Folder: &folder})
	must(err, "ImportVApp "+name)
	return res.Returnval
}

func qemu(args ...string) error {
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img %v: %v: %s", args, err, out)
	}
	return nil
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func runTransfer(bin string) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		check(false, "0030: qemu-img (apt-get install qemu-utils) is needed to check the VMDK streams")
		return
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vcsim-transfer-")
	must(err, "temp dir")
	defer os.RemoveAll(dir)

	// the image: 3 MiB, a pattern in the first MiB, zeros, a pattern in the last 64 KiB
	raw := make([]byte, 3<<20)
	for i := 0; i < 1<<20; i++ {
		raw[i] = byte(i*7 + i/4096)
	}
	for i := len(raw) - 65536; i < len(raw); i++ {
		raw[i] = byte(i % 251)
	}
	rawPath, soPath := filepath.Join(dir, "image.raw"), filepath.Join(dir, "image.vmdk")
	must(os.WriteFile(rawPath, raw, 0600), "write raw")
	must(qemu("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", rawPath, soPath), "make stream")
	stream, err := os.ReadFile(soPath)
	must(err, "read stream")
	want := append(append([]byte{}, raw...), make([]byte, transferDiskKB*1024-len(raw))...)

	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	pool := byName(ctx, c, "ResourcePool", "Resources")
	folder := byName(ctx, c, "Folder", "vm")

	// import: lease ready, one disk URL
	leaseRef := importVApp(ctx, c, pool, folder, "nfc-import")
	l := leaseOf(ctx, c, leaseRef)
	ok := l.State == types.HttpNfcLeaseStateReady && l.Info != nil && len(l.Info.DeviceUrl) == 1 &&
		l.Info.DeviceUrl[0].Disk != nil && *l.Info.DeviceUrl[0].Disk && l.Info.LeaseTimeout == 300 &&
		l.Info.TotalDiskCapacityInKB == transferDiskKB
	check(ok, "0030: ImportVApp lease is ready with one disk deviceUrl, leaseTimeout 300, totalDiskCapacityInKB %d (%+v)", transferDiskKB, l.Info)
	if !ok {
		return
	}
	vmRef := l.Info.Entity
	diskURL := l.Info.DeviceUrl[0].Url
	flatFile := localFile(ctx, c, flat(disks(ctx, c, vmRef)[0]).FileName)
	flatFile = flatFile[:len(flatFile)-len(".vmdk")] + "-flat.vmdk"

	code, _ := nfcDo(c, "PUT", diskURL, stream, false)
	check(code == http.StatusUnauthorized, "0030: a disk URL without the session cookie is refused (%d)", code)
	code, body := nfcDo(c, "PUT", diskURL, stream[:len(stream)/2], true)
	fi, err := os.Stat(flatFile)
	check(code == http.StatusBadRequest && err == nil && fi.Size() == 0, "0030: a truncated stream is refused with 400 and the disk's (empty) -flat.vmdk is unchanged (%d %s)", code, bytes.TrimSpace(body))
	code, body = nfcDo(c, "PUT", diskURL, raw, true)
	check(code == http.StatusBadRequest && bytes.Contains(body, []byte("not a sparse VMDK")), "0030: raw data is refused: not a sparse VMDK (%d %s)", code, bytes.TrimSpace(body))
	code, _ = nfcDo(c, "GET", diskURL, nil, true)
	check(code == http.StatusMethodNotAllowed, "0030: GET on an import lease is 405 (%d)", code)
	code, body = nfcDo(c, "PUT", diskURL, stream, true)
	data, _ := os.ReadFile(flatFile)
	check(code == http.StatusOK && sha(data) == sha(want), "0030: the uploaded stream is the disk's data in its -flat.vmdk (%d %s, %d bytes)", code, bytes.TrimSpace(body), len(data))

	_, err = methods.HttpNfcLeaseProgress(ctx, c, &types.HttpNfcLeaseProgress{This: leaseRef, Percent: 101})
	_, isArg := faultOf(err).(*types.InvalidArgument)
	check(isArg, "0030: HttpNfcLeaseProgress(101) is InvalidArgument (%v)", err)
	_, err = methods.HttpNfcLeaseProgress(ctx, c, &types.HttpNfcLeaseProgress{This: leaseRef, Percent: 60})
	check(err == nil && leaseOf(ctx, c, leaseRef).TransferProgress == 60, "0030: HttpNfcLeaseProgress(60) sets transferProgress (%v)", err)
	_, err = methods.HttpNfcLeaseComplete(ctx, c, &types.HttpNfcLeaseComplete{This: leaseRef})
	check(err == nil && leaseOf(ctx, c, leaseRef).State == types.HttpNfcLeaseStateDone && vmNamed(ctx, c, "nfc-import"),
		"0030: HttpNfcLeaseComplete: lease done, the imported VM stays (%v)", err)
	_, err = methods.HttpNfcLeaseComplete(ctx, c, &types.HttpNfcLeaseComplete{This: leaseRef})
	_, isState := faultOf(err).(*types.InvalidState)
	check(isState, "0030: HttpNfcLeaseComplete of a done lease is InvalidState (%v)", err)
	code, _ = nfcDo(c, "PUT", diskURL, stream, true)
	check(code == http.StatusNotFound, "0030: the disk URL of a done lease is 404 (%d)", code)

	// export: ExportVm streams the disk back; qemu-img reads it
	res, err := methods.ExportVm(ctx, c, &types.ExportVm{This: vmRef})
	must(err, "ExportVm")
	l = leaseOf(ctx, c, res.Returnval)
	check(l.State == types.HttpNfcLeaseStateReady && len(l.Info.DeviceUrl) == 1 && l.Info.DeviceUrl[0].TargetId == "disk-0.vmdk" &&
		l.Info.Entity == vmRef, "0030: ExportVm lease ready with disk-0.vmdk of the VM (%+v)", l.Info)
	code, body = nfcDo(c, "GET", l.Info.DeviceUrl[0].Url, nil, true)
	outPath, backPath := filepath.Join(dir, "export.vmdk"), filepath.Join(dir, "export.raw")
	must(os.WriteFile(outPath, body, 0600), "write export")
	err = qemu("check", "-f", "vmdk", outPath)
	check(code == http.StatusOK && err == nil, "0030: the exported stream passes qemu-img check (%d %v)", code, err)
	err = qemu("convert", "-f", "vmdk", "-O", "raw", outPath, backPath)
	back, _ := os.ReadFile(backPath)
	check(err == nil && sha(back) == sha(want), "0030: the exported stream read by qemu-img is the disk's data (%v, %d bytes)", err, len(back))
	check(len(body) < len(raw)/2, "0030: zero grains are left out of the stream (%d bytes for a %d-byte disk)", len(body), len(want))
	code, _ = nfcDo(c, "PUT", l.Info.DeviceUrl[0].Url, stream, true)
	check(code == http.StatusMethodNotAllowed, "0030: PUT on an export lease is 405 (%d)", code)
	_, err = methods.HttpNfcLeaseAbort(ctx, c, &types.HttpNfcLeaseAbort{This: res.Returnval})
	l2 := leaseOf(ctx, c, res.Returnval)
	check(err == nil && l2.State == types.HttpNfcLeaseStateError && vmNamed(ctx, c, "nfc-import"),
		"0030: HttpNfcLeaseAbort of an export: lease error, the VM stays (%v %s)", err, l2.State)
	_, err = methods.HttpNfcLeaseAbort(ctx, c, &types.HttpNfcLeaseAbort{This: res.Returnval})
	_, isState = faultOf(err).(*types.InvalidState)
	check(isState, "0030: HttpNfcLeaseAbort of an aborted lease is InvalidState (%v)", err)

	// ExportSnapshot
	snap := snapshot(ctx, c, object.NewVirtualMachine(c, vmRef), "s1")
	sres, err := methods.ExportSnapshot(ctx, c, &types.ExportSnapshot{This: snap})
	check(err == nil, "0030: ExportSnapshot returns a lease (%v)", err)
	if err == nil {
		l = leaseOf(ctx, c, sres.Returnval)
		code, body = nfcDo(c, "GET", l.Info.DeviceUrl[0].Url, nil, true)
		must(os.WriteFile(outPath, body, 0600), "write snapshot export")
		err = qemu("convert", "-f", "vmdk", "-O", "raw", outPath, backPath)
		back, _ = os.ReadFile(backPath)
		check(code == http.StatusOK && err == nil && sha(back) == sha(want), "0030: ExportSnapshot streams the snapshot's disk (%d %v)", code, err)
		_, err = methods.HttpNfcLeaseComplete(ctx, c, &types.HttpNfcLeaseComplete{This: sres.Returnval})
		check(err == nil, "0030: HttpNfcLeaseComplete of the snapshot export (%v)", err)
	}

	// disk data follows clones: a full copy gets it, a linked clone reads its parent's
	vmObj := object.NewVirtualMachine(c, vmRef)
	for _, kind := range []string{"full", "linked"} {
		spec := types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Pool: &pool}}
		if kind == "linked" {
			spec.Snapshot = &snap
			spec.Location.DiskMoveType = string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking)
		}
		res, err := wait(vmObj.Clone(ctx, object.NewFolder(c, folder), "nfc-"+kind, spec))
		must(err, "CloneVM_Task "+kind)
		cloneRef := res.(types.ManagedObjectReference)
		ex, err := methods.ExportVm(ctx, c, &types.ExportVm{This: cloneRef})
		must(err, "ExportVm of the "+kind+" clone")
		l = leaseOf(ctx, c, ex.Returnval)
		code, body = nfcDo(c, "GET", l.Info.DeviceUrl[0].Url, nil, true)
		must(os.WriteFile(outPath, body, 0600), "write clone export")
		err = qemu("convert", "-f", "vmdk", "-O", "raw", outPath, backPath)
		back, _ = os.ReadFile(backPath)
		check(code == http.StatusOK && err == nil && sha(back) == sha(want), "0030: a %s clone's export is its source's data (%d %v)", kind, code, err)
		_, _ = methods.HttpNfcLeaseComplete(ctx, c, &types.HttpNfcLeaseComplete{This: ex.Returnval})
		if kind == "full" {
			cf := localFile(ctx, c, flat(disks(ctx, c, cloneRef)[0]).FileName)
			data, _ := os.ReadFile(cf[:len(cf)-len(".vmdk")] + "-flat.vmdk")
			check(sha(data) == sha(want), "0030: a full clone's -flat.vmdk holds a copy of the source's data (%d bytes)", len(data))
		}
	}

	// ExportVm of a powered-on VM
	on := byName(ctx, c, "VirtualMachine", "DC0_H0_VM0")
	_, err = methods.ExportVm(ctx, c, &types.ExportVm{This: on})
	_, isPower := faultOf(err).(*types.InvalidPowerState)
	check(isPower, "0030: ExportVm of a powered-on VM is InvalidPowerState (%v)", err)

	// abort of an import removes the VM and its files
	abortRef := importVApp(ctx, c, pool, folder, "nfc-abort")
	l = leaseOf(ctx, c, abortRef)
	abortFlat := localFile(ctx, c, flat(disks(ctx, c, l.Info.Entity)[0]).FileName)
	code, _ = nfcDo(c, "PUT", l.Info.DeviceUrl[0].Url, stream, true)
	_, err = methods.HttpNfcLeaseAbort(ctx, c, &types.HttpNfcLeaseAbort{This: abortRef})
	l2 = leaseOf(ctx, c, abortRef)
	check(code == http.StatusOK && err == nil && l2.State == types.HttpNfcLeaseStateError && !vmNamed(ctx, c, "nfc-abort") &&
		!exists(abortFlat) && !exists(filepath.Dir(abortFlat)),
		"0030: HttpNfcLeaseAbort of an import: lease error, the imported VM and its files are gone (%d %v %s)", code, err, l2.State)
	_, err = methods.HttpNfcLeaseProgress(ctx, c, &types.HttpNfcLeaseProgress{This: abortRef, Percent: 10})
	_, isState = faultOf(err).(*types.InvalidState)
	check(isState, "0030: HttpNfcLeaseProgress of an aborted lease is InvalidState (%v)", err)

	runTransferTimeout(bin)
}

// runTransferTimeout: -nfc-lease-timeout-s 1; progress keeps a lease alive, silence times it out.
func runTransferTimeout(bin string) {
	ctx := context.Background()
	s := start(bin, "-nfc-lease-timeout-s", "1")
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	pool := byName(ctx, c, "ResourcePool", "Resources")
	folder := byName(ctx, c, "Folder", "vm")

	alive := importVApp(ctx, c, pool, folder, "nfc-alive")
	check(leaseOf(ctx, c, alive).Info.LeaseTimeout == 1, "0030: -nfc-lease-timeout-s 1 sets info.leaseTimeout")
	for i := 0; i < 5; i++ {
		time.Sleep(400 * time.Millisecond)
		_, err = methods.HttpNfcLeaseProgress(ctx, c, &types.HttpNfcLeaseProgress{This: alive, Percent: int32(10 * i)})
	}
	check(err == nil && leaseOf(ctx, c, alive).State == types.HttpNfcLeaseStateReady,
		"0030: HttpNfcLeaseProgress every 0.4 s keeps a 1 s lease ready for 2 s (%v)", err)
	time.Sleep(1500 * time.Millisecond)
	l := leaseOf(ctx, c, alive)
	isTimedout := false
	if l.Error != nil {
		_, isTimedout = l.Error.Fault.(*types.Timedout)
	}
	check(l.State == types.HttpNfcLeaseStateError && isTimedout && !vmNamed(ctx, c, "nfc-alive"),
		"0030: without progress the lease times out: state error, Timedout, the imported VM removed (%s)", l.State)
	_, err = methods.HttpNfcLeaseProgress(ctx, c, &types.HttpNfcLeaseProgress{This: alive, Percent: 90})
	_, isTimedout = faultOf(err).(*types.Timedout)
	check(isTimedout, "0030: HttpNfcLeaseProgress after the timeout is Timedout (%v)", err)
	_, err = methods.HttpNfcLeaseComplete(ctx, c, &types.HttpNfcLeaseComplete{This: alive})
	_, isTimedout = faultOf(err).(*types.Timedout)
	check(isTimedout, "0030: HttpNfcLeaseComplete after the timeout is Timedout (%v)", err)
}
