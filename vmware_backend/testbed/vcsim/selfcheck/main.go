// selfcheck drives the vcsim test bed binary over HTTP with govmomi's client
// packages and checks every flag and every vcsim gap fixed by the test bed.
//
//	selfcheck /path/to/vcsim
//
// It exits non-zero on any failure and ends with "selfcheck: N passed, M failed".
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

var passed, failed int

func check(ok bool, format string, args ...interface{}) bool {
	msg := fmt.Sprintf(format, args...)
	if ok {
		passed++
		fmt.Printf("PASS %s\n", msg)
	} else {
		failed++
		fmt.Printf("FAIL %s\n", msg)
	}
	return ok
}

func must(err error, what string) {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", what, err)
		panic(err)
	}
}

func faultOf(err error) types.BaseMethodFault {
	if err == nil {
		return nil
	}
	if soap.IsSoapFault(err) {
		v := soap.ToSoapFault(err).VimFault()
		if f, ok := v.(types.BaseMethodFault); ok {
			return f
		}
		if v != nil { // decoded as a value: take its address
			rv := reflect.ValueOf(v)
			p := reflect.New(rv.Type())
			p.Elem().Set(rv)
			if f, ok := p.Interface().(types.BaseMethodFault); ok {
				return f
			}
		}
	}
	if soap.IsVimFault(err) {
		return soap.ToVimFault(err)
	}
	if te, ok := err.(task.Error); ok {
		return te.Fault()
	}
	return nil
}

type sim struct {
	cmd  *exec.Cmd
	url  *url.URL
	errf string
	dirs []string // datastore directories, removed on stop
}

func start(bin string, args ...string) *sim {
	errf, _ := os.CreateTemp("", "vcsim-selfcheck-*.log")
	cmd := exec.Command(bin, args...)
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	must(err, "stdout pipe")
	t0 := time.Now()
	must(cmd.Start(), "start vcsim")
	s := &sim{cmd: cmd, errf: errf.Name()}
	sc := bufio.NewScanner(out)
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if strings.HasPrefix(line, "VCSIM_URL=") {
			s.url, err = url.Parse(strings.TrimPrefix(line, "VCSIM_URL="))
			must(err, "parse VCSIM_URL")
		}
		if line == "VCSIM_READY" {
			break
		}
	}
	check(len(lines) == 2 && s.url != nil && strings.HasPrefix(lines[0], "VCSIM_URL=http://127.0.0.1:") &&
		strings.HasSuffix(lines[0], "/sdk"), "stdout is exactly VCSIM_URL=http://127.0.0.1:<port>/sdk + VCSIM_READY (%q)", lines)
	fmt.Printf("INFO vcsim %v ready in %s\n", args, time.Since(t0).Round(time.Millisecond))
	go func() { _, _ = bufio.NewReader(out).WriteTo(devnull{}) }()
	return s
}

type devnull struct{}

func (devnull) Write(p []byte) (int, error) { return len(p), nil }

func (s *sim) stop() {
	defer func() {
		if failed == 0 {
			_ = os.Remove(s.errf)
		} else {
			fmt.Printf("INFO vcsim stderr kept in %s\n", s.errf)
		}
	}()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		check(err == nil, "vcsim exits cleanly on SIGTERM (%v)", err)
		left := 0
		for _, d := range s.dirs {
			if exists(d) {
				left++
			}
		}
		check(left == 0, "vcsim removed its %d datastore directories on SIGTERM (%d left)", len(s.dirs), left)
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		check(false, "vcsim exits on SIGTERM within 15s")
	}
}

func (s *sim) client(ctx context.Context, user, pass string) (*vim25.Client, error) {
	sc := soap.NewClient(s.url, true)
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	err = session.NewManager(c).Login(ctx, url.UserPassword(user, pass))
	return c, err
}

func main() {
	scale := len(os.Args) == 3 && os.Args[1] == "-scale"
	if len(os.Args) != 2 && !scale {
		fmt.Fprintln(os.Stderr, "usage: selfcheck [-scale] /path/to/vcsim")
		os.Exit(2)
	}
	bin := os.Args[len(os.Args)-1]
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("FAIL aborted: %v\n", r)
			failed++
		}
		fmt.Printf("selfcheck: %d passed, %d failed\n", passed, failed)
		if failed > 0 {
			os.Exit(1)
		}
	}()

	if scale {
		runScale(bin)
		return
	}
	runMain(bin)
	runDefaults(bin)
	runFaults(bin)
	runDatastoreAdmin(bin) // patch 0020, datastore_admin.go
	runTransfer(bin)       // patch 0030, transfer.go
	runVIJSON(bin)         // patches 0060-0061, vijson.go
	runVIJSONReleases(bin) // patch 0060, vijson.go
	runAdmin10(bin)        // patches 0050-0059, admin10.go
	runManage9(bin)        // patches 0040-0041, manage9.go
	runRelocateCharge(bin) // patch 0042, manage9.go
	runSpbm(bin)           // pbm.go, patches 0043-0044, spbm.go
	runSpbmClone(bin)      // patch 0046, spbm_clone.go
}

// runScale: -vms 2500 gives 5000 VMs; measures start-up and a full paged listing.
func runScale(bin string) {
	ctx := context.Background()
	t0 := time.Now()
	s := start(bin, "-vms", "2500")
	startup := time.Since(t0)
	defer s.stop()
	check(startup < 120*time.Second, "5000 VMs: start-up %s", startup.Round(time.Millisecond))
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	t1 := time.Now()
	checkTraversal(ctx, c, 5000, 2)
	fmt.Printf("INFO recursive traversal of 5000 VMs etc. took %s\n", time.Since(t1).Round(time.Millisecond))
	t2 := time.Now()
	checkPagingN(ctx, c, 5000, 1000)
	fmt.Printf("INFO paged listing of 5000 VMs took %s\n", time.Since(t2).Round(time.Millisecond))
}

// runDefaults: default flags, no task delay, tasks complete before returning.
func runDefaults(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login user/pass")
	_, err = s.client(ctx, "user", "wrong")
	_, isInvalid := faultOf(err).(*types.InvalidLogin)
	check(isInvalid, "default: Login user/wrong fails with InvalidLogin (%v)", err)

	vms := allRefs(ctx, c, "VirtualMachine")
	check(len(vms) == 4, "default: 1 standalone host + 1 cluster, -vms 2 -> 4 VMs (%d)", len(vms))
	checkRenameSnapshot(ctx, c, vms[0])
	hosts := allRefs(ctx, c, "HostSystem")
	check(len(hosts) == 4, "default: 3 cluster hosts + 1 standalone (%d)", len(hosts))
	dss := allRefs(ctx, c, "Datastore")
	check(len(dss) == 2, "default: 2 datastores (%d)", len(dss))
	for _, ref := range dss {
		var ds mo.Datastore
		must(property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"summary", "host"}, &ds), "datastore")
		check(ds.Summary.Type == "VMFS" && ds.Summary.Capacity == 1024<<30 && ds.Summary.FreeSpace == 900<<30 && len(ds.Host) == 4,
			"default: %s VMFS 1024GiB/900GiB mounted on 4 hosts (%s %d %d %d)", ds.Summary.Name, ds.Summary.Type, ds.Summary.Capacity>>30, ds.Summary.FreeSpace>>30, len(ds.Host))
	}

	vm := object.NewVirtualMachine(c, vms[0])
	t, err := vm.PowerOff(ctx)
	must(err, "power off")
	var tmo mo.Task
	must(property.DefaultCollector(c).RetrieveOne(ctx, t.Reference(), []string{"info"}, &tmo), "task info")
	check(tmo.Info.State == types.TaskInfoStateSuccess || tmo.Info.State == types.TaskInfoStateError,
		"default: without -task-delay-ms a task is complete when returned (%s)", tmo.Info.State)
}

func allRefs(ctx context.Context, c *vim25.Client, kind string) []types.ManagedObjectReference {
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{kind}, true)
	must(err, "CreateContainerView")
	defer v.Destroy(ctx)
	refs, err := v.Find(ctx, []string{kind}, nil)
	must(err, "ContainerView.Find")
	return refs
}

func byName(ctx context.Context, c *vim25.Client, kind, name string) types.ManagedObjectReference {
	for _, ref := range allRefs(ctx, c, kind) {
		var e mo.ManagedEntity
		if err := property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"name"}, &e); err == nil && e.Name == name {
			return ref
		}
	}
	panic(fmt.Sprintf("%s %s not found", kind, name))
}

func dsLocalPath(ctx context.Context, c *vim25.Client, dsName string) string {
	var ds mo.Datastore
	must(property.DefaultCollector(c).RetrieveOne(ctx, byName(ctx, c, "Datastore", dsName), []string{"info"}, &ds), "ds info")
	return ds.Info.GetDatastoreInfo().Url
}

func localFile(ctx context.Context, c *vim25.Client, dsPath string) string {
	var p object.DatastorePath
	p.FromString(dsPath)
	return path.Join(dsLocalPath(ctx, c, p.Datastore), p.Path)
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

func disks(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) []*types.VirtualDisk {
	var vm mo.VirtualMachine
	must(property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"config.hardware.device"}, &vm), "devices")
	var res []*types.VirtualDisk
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			res = append(res, disk)
		}
	}
	return res
}

func flat(d *types.VirtualDisk) *types.VirtualDiskFlatVer2BackingInfo {
	return d.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
}

func wait(t *object.Task, err error) (types.AnyType, error) {
	if err != nil {
		return nil, err
	}
	info, err := t.WaitForResult(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

func runMain(bin string) {
	ctx := context.Background()
	const delay = 300
	s := start(bin,
		"-username", "admin", "-password", "secret",
		"-vms", "3", "-datastores", "4",
		"-ds-capacity-gib", "2048", "-ds-free-gib", "1000",
		"-ds-free", "LocalDS_2=0",
		"-ds-inaccessible", "LocalDS_3",
		"-ds-type", "LocalDS_1=NFS,LocalDS_2=VMFS",
		"-ds-unmounted", "LocalDS_3",
		"-host-maintenance", "DC0_C0_H1",
		"-task-delay-ms", fmt.Sprint(delay))
	defer s.stop()

	// ---- login
	for _, up := range [][2]string{{"admin", "wrong"}, {"user", "pass"}, {"admin", ""}} {
		_, err := s.client(ctx, up[0], up[1])
		_, isInvalid := faultOf(err).(*types.InvalidLogin)
		check(isInvalid, "Login %s/%s fails with InvalidLogin (%v)", up[0], up[1], err)
	}
	c, err := s.client(ctx, "admin", "secret")
	must(err, "login admin/secret")
	pc := property.DefaultCollector(c)
	for _, n := range []string{"LocalDS_0", "LocalDS_1", "LocalDS_2", "LocalDS_3"} {
		s.dirs = append(s.dirs, dsLocalPath(ctx, c, n))
	}
	finder := find.NewFinder(c, true)
	dcObj, err := finder.DefaultDatacenter(ctx)
	must(err, "datacenter")
	finder.SetDatacenter(dcObj)

	// ---- inventory flags
	vmRefs := allRefs(ctx, c, "VirtualMachine")
	check(len(vmRefs) == 6, "-vms 3: (1 standalone + 1 cluster) * 3 = 6 VMs (%d)", len(vmRefs))

	// ---- datastore shaping
	hostDS := map[types.ManagedObjectReference][]types.ManagedObjectReference{}
	for _, ref := range allRefs(ctx, c, "HostSystem") {
		var h mo.HostSystem
		must(pc.RetrieveOne(ctx, ref, []string{"name", "datastore", "runtime", "summary.runtime"}, &h), "host")
		hostDS[ref] = h.Datastore
		want := h.Name == "DC0_C0_H1"
		check(h.Runtime.InMaintenanceMode == want && h.Summary.Runtime != nil && h.Summary.Runtime.InMaintenanceMode == want,
			"-host-maintenance: %s runtime/summary.runtime.inMaintenanceMode == %v", h.Name, want)
	}
	for _, ref := range allRefs(ctx, c, "Datastore") {
		var ds mo.Datastore
		must(pc.RetrieveOne(ctx, ref, []string{"summary", "host", "info"}, &ds), "datastore")
		name := ds.Summary.Name
		wantType := map[string]string{"LocalDS_0": "VMFS", "LocalDS_1": "NFS", "LocalDS_2": "VMFS", "LocalDS_3": "VMFS"}[name]
		check(ds.Summary.Type == wantType, "-ds-type: %s summary.type %s == %s", name, ds.Summary.Type, wantType)
		wantFree := int64(1000) << 30
		if name == "LocalDS_2" {
			wantFree = 0
		}
		check(ds.Summary.Capacity == 2048<<30 && ds.Summary.FreeSpace == wantFree && ds.Info.GetDatastoreInfo().FreeSpace == wantFree,
			"-ds-capacity-gib/-ds-free-gib/-ds-free: %s capacity %d free %d (info %d)", name, ds.Summary.Capacity>>30, ds.Summary.FreeSpace>>30, ds.Info.GetDatastoreInfo().FreeSpace>>30)
		check(ds.Summary.Accessible == (name != "LocalDS_3"), "-ds-inaccessible: %s accessible=%v", name, ds.Summary.Accessible)
		wantHosts := 4
		if name == "LocalDS_3" {
			wantHosts = 1
		}
		check(len(ds.Host) == wantHosts, "Datastore.host lists every mounting host: %s %d == %d", name, len(ds.Host), wantHosts)
		for _, m := range ds.Host {
			found := false
			for _, d := range hostDS[m.Key] {
				found = found || d == ref
			}
			check(found && m.MountInfo.Mounted != nil && *m.MountInfo.Mounted, "%s mount on %s is in HostSystem.datastore", name, m.Key.Value)
		}
		if name == "LocalDS_3" && len(ds.Host) == 1 {
			var h mo.HostSystem
			must(pc.RetrieveOne(ctx, ds.Host[0].Key, []string{"name", "parent"}, &h), "host")
			check(h.Parent.Type == "ComputeResource", "-ds-unmounted: LocalDS_3 only on the standalone host (%s)", h.Name)
		}
		if wantType == "VMFS" {
			_, ok := ds.Info.(*types.VmfsDatastoreInfo)
			check(ok, "%s info is VmfsDatastoreInfo (%T)", name, ds.Info)
		}
	}
	for h, list := range hostDS {
		for _, ds := range list {
			var d mo.Datastore
			must(pc.RetrieveOne(ctx, ds, []string{"host"}, &d), "ds host")
			found := false
			for _, m := range d.Host {
				found = found || m.Key == h
			}
			check(found, "HostSystem %s datastore %s is consistent with Datastore.host", h.Value, ds.Value)
		}
	}

	// ---- PropertyCollector: TraversalSpec.type (oslo.vmware recursive traversal spec)
	checkTraversal(ctx, c, len(vmRefs), 4)

	// ---- PropertyCollector: paging
	checkPaging(ctx, c, len(vmRefs))

	// ---- Folder.CreateFolder DuplicateName
	folders, err := dcObj.Folders(ctx)
	must(err, "folders")
	f1, err := folders.VmFolder.CreateFolder(ctx, "cinder-volumes")
	must(err, "CreateFolder")
	_, err = folders.VmFolder.CreateFolder(ctx, "cinder-volumes")
	_, dup := faultOf(err).(*types.DuplicateName)
	check(dup, "CreateFolder of an existing name: DuplicateName (%v)", err)

	// ---- CreateVM_Task with a new disk, async task
	pool := byName(ctx, c, "ResourcePool", "Resources")
	var rp mo.ResourcePool
	must(pc.RetrieveOne(ctx, pool, []string{"parent"}, &rp), "pool parent")
	vmA := createVM(ctx, c, f1, pool, "volume-a", "LocalDS_0", 1024*1024, map[string]string{"cinder.volume.id": "a", "vmware.x": "1"}, "11111111-2222-3333-4444-555555555555")
	dA := disks(ctx, c, vmA.Reference())
	check(len(dA) == 1, "CreateVM_Task: 1 disk")
	diskA := flat(dA[0])
	fileA := localFile(ctx, c, diskA.FileName)
	check(exists(fileA) && strings.HasPrefix(fileA, dsLocalPath(ctx, c, "LocalDS_0")), "CreateVM_Task fileOperation=create made %s under the datastore dir", diskA.FileName)
	check(diskA.Uuid != "" && dA[0].CapacityInKB == 1024*1024 && dA[0].CapacityInBytes == 1024*1024*1024,
		"new disk has backing.uuid %q and capacity 1GiB (%d KB, %d B)", diskA.Uuid, dA[0].CapacityInKB, dA[0].CapacityInBytes)

	freeGiB := func() float64 {
		var ds mo.Datastore
		must(pc.RetrieveOne(ctx, byName(ctx, c, "Datastore", "LocalDS_0"), []string{"summary"}, &ds), "ds summary")
		return float64(ds.Summary.FreeSpace) / (1 << 30)
	}
	check(freeGiB() == 999, "a new 1GiB disk is charged to LocalDS_0's summary.freeSpace (%.3f GiB)", freeGiB())

	// ---- keyed property paths
	checkKeyed(ctx, c, vmA.Reference(), dA[0].Key)

	// ---- FindAllByUuid
	checkFindAllByUuid(ctx, c, dcObj, vmA.Reference())

	// ---- attach the existing vmdk to another VM: same uuid
	vmB := createVM(ctx, c, f1, pool, "volume-b", "LocalDS_0", 0, nil, "")
	devB, err := vmB.Device(ctx)
	must(err, "devices B")
	ctrl, err := devB.FindDiskController("scsi")
	must(err, "scsi controller")
	att := devB.CreateDisk(ctrl, types.ManagedObjectReference{}, diskA.FileName)
	att.CapacityInKB = 0
	spec := types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: att},
	}}
	_, err = wait(reconfig(ctx, vmB, spec))
	check(err == nil, "ReconfigVM_Task attaches an existing vmdk (%v)", err)
	dB := disks(ctx, c, vmB.Reference())
	check(len(dB) == 1 && flat(dB[0]).FileName == diskA.FileName && flat(dB[0]).Uuid == diskA.Uuid && dB[0].CapacityInKB == dA[0].CapacityInKB,
		"attached disk shows the owner's backing.uuid and capacity (%v)", describeDisks(dB))

	// QueryVirtualDiskUuid follows the file
	vdm := object.NewVirtualDiskManager(c)
	q, err := vdm.QueryVirtualDiskUuid(ctx, diskA.FileName, dcObj)
	check(err == nil && strings.EqualFold(strings.NewReplacer(" ", "", "-", "").Replace(q), strings.ReplaceAll(diskA.Uuid, "-", "")),
		"QueryVirtualDiskUuid %q matches backing.uuid %q (%v)", q, diskA.Uuid, err)

	// ---- ExtendVirtualDisk_Task
	dcRef := dcObj.Reference()
	ext := func(name string, kb int64) error {
		res, err := methods.ExtendVirtualDisk_Task(ctx, c, &types.ExtendVirtualDisk_Task{
			This: *c.ServiceContent.VirtualDiskManager, Name: name, Datacenter: &dcRef, NewCapacityKb: kb, EagerZero: types.NewBool(false)})
		if err != nil {
			return err
		}
		return object.NewTask(c, res.Returnval).Wait(ctx)
	}
	err = ext(diskA.FileName, 2*1024*1024)
	check(err == nil, "ExtendVirtualDisk_Task to 2GiB (%v)", err)
	for _, ref := range []types.ManagedObjectReference{vmA.Reference(), vmB.Reference()} {
		d := disks(ctx, c, ref)
		check(len(d) == 1 && d[0].CapacityInKB == 2*1024*1024 && d[0].CapacityInBytes == 2<<30,
			"after ExtendVirtualDisk_Task %s reports capacityInKB/Bytes 2GiB (%v)", ref.Value, describeDisks(d))
	}
	check(freeGiB() == 998, "ExtendVirtualDisk_Task charges the growth to summary.freeSpace, an attached copy nothing (%.3f GiB)", freeGiB())
	checkBrowser(ctx, finder, diskA.FileName, 2*1024*1024)
	err = ext(diskA.FileName, 1024)
	_, bad := faultOf(err).(*types.InvalidArgument)
	check(bad, "ExtendVirtualDisk_Task shrinking: InvalidArgument (%v)", err)
	err = ext("[LocalDS_0] nope/nope.vmdk", 4096)
	_, nf := faultOf(err).(*types.FileNotFound)
	check(nf, "ExtendVirtualDisk_Task of a missing file: FileNotFound (%v)", err)

	// ReconfigVM_Task edit grows the disk
	dA = disks(ctx, c, vmA.Reference())
	dA[0].CapacityInKB = 3 * 1024 * 1024
	_, err = wait(reconfig(ctx, vmA, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: dA[0]}}}))
	dA = disks(ctx, c, vmA.Reference())
	check(err == nil && dA[0].CapacityInKB == 3*1024*1024 && dA[0].CapacityInBytes == 3<<30 && flat(dA[0]).Uuid == diskA.Uuid,
		"ReconfigVM_Task edit grows capacityInKB to 3GiB, uuid kept (%v %v)", err, describeDisks(dA))

	// detach from B (no file operation) keeps the file
	dB = disks(ctx, c, vmB.Reference())
	_, err = wait(reconfig(ctx, vmB, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: dB[0]}}}))
	check(err == nil && len(disks(ctx, c, vmB.Reference())) == 0 && exists(fileA), "detach keeps the vmdk file (%v)", err)

	// ---- snapshots
	snap1 := snapshot(ctx, c, vmA, "s1")
	snap2 := snapshot(ctx, c, vmA, "s2")
	var vmmo mo.VirtualMachine
	must(pc.RetrieveOne(ctx, vmA.Reference(), []string{"snapshot"}, &vmmo), "snapshot info")
	check(vmmo.Snapshot != nil && len(vmmo.Snapshot.RootSnapshotList) == 1 && vmmo.Snapshot.RootSnapshotList[0].Snapshot == snap1 &&
		len(vmmo.Snapshot.RootSnapshotList[0].ChildSnapshotList) == 1 && vmmo.Snapshot.RootSnapshotList[0].ChildSnapshotList[0].Snapshot == snap2 &&
		*vmmo.Snapshot.CurrentSnapshot == snap2, "CreateSnapshot_Task x2: rootSnapshotList s1 -> s2, current s2")
	_, err = wait(revert(ctx, c, snap1))
	must(pc.RetrieveOne(ctx, vmA.Reference(), []string{"snapshot"}, &vmmo), "snapshot info")
	check(err == nil && *vmmo.Snapshot.CurrentSnapshot == snap1, "RevertToSnapshot_Task: current s1 (%v)", err)

	// grow the disk after the snapshot, so the snapshot state differs from the VM
	dA = disks(ctx, c, vmA.Reference())
	snapDisk := flat(dA[0]).FileName
	snapUUID := flat(dA[0]).Uuid

	// ---- full clone with spec.config and location datastore: deep copy, new file, new uuid
	clone1, err := wait(vmA.Clone(ctx, f1, "clone-full", types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{
			Datastore:    refPtr(byName(ctx, c, "Datastore", "LocalDS_1")),
			Pool:         &pool,
			DiskMoveType: string(types.VirtualMachineRelocateDiskMoveOptionsMoveAllDiskBackingsAndDisallowSharing),
		},
		Config: &types.VirtualMachineConfigSpec{
			Name:         "clone-full-renamed",
			InstanceUuid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
			ExtraConfig:  []types.BaseOptionValue{&types.OptionValue{Key: "cinder.volume.id", Value: "clone"}},
		},
	}))
	check(err == nil, "CloneVM_Task full (%v)", err)
	if err == nil {
		ref := clone1.(types.ManagedObjectReference)
		var cm mo.VirtualMachine
		must(pc.RetrieveOne(ctx, ref, []string{"name", "config", "datastore", "parent"}, &cm), "clone")
		ev := extraConfig(cm.Config.ExtraConfig)
		check(cm.Name == "clone-full-renamed" && cm.Config.InstanceUuid == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" && ev["cinder.volume.id"] == "clone" && ev["vmware.x"] == "1",
			"clone: spec.config name/instanceUuid/extraConfig land on the clone (%s %s %v)", cm.Name, cm.Config.InstanceUuid, ev)
		check(*cm.Parent == f1.Reference(), "clone is in the requested folder")
		cd := disks(ctx, c, ref)
		var p object.DatastorePath
		if check(len(cd) == 1, "clone has 1 disk") {
			p.FromString(flat(cd[0]).FileName)
			check(p.Datastore == "LocalDS_1" && flat(cd[0]).FileName != snapDisk && flat(cd[0]).Parent == nil && flat(cd[0]).Uuid != "" && flat(cd[0]).Uuid != snapUUID &&
				exists(localFile(ctx, c, flat(cd[0]).FileName)) && cd[0].CapacityInKB == 3*1024*1024,
				"full clone: new file on LocalDS_1, no parent, new uuid, same capacity (%v)", describeDisks(cd))
			// edit the clone's disk: the source must not change (deep copy)
			cd[0].CapacityInKB = 4 * 1024 * 1024
			_, err = wait(reconfig(ctx, object.NewVirtualMachine(c, ref), types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
				&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: cd[0]}}}))
			src := disks(ctx, c, vmA.Reference())
			check(err == nil && flat(src[0]).FileName == snapDisk && flat(src[0]).Uuid == snapUUID && src[0].CapacityInKB == 3*1024*1024,
				"source VM disk unchanged after clone and clone edit (%v)", describeDisks(src))
		}
	}

	// ---- linked clone from a snapshot
	clone2, err := wait(vmA.Clone(ctx, f1, "clone-linked", types.VirtualMachineCloneSpec{
		Snapshot: &snap1,
		Location: types.VirtualMachineRelocateSpec{
			Pool:         &pool,
			DiskMoveType: string(types.VirtualMachineRelocateDiskMoveOptionsCreateNewChildDiskBacking),
		},
	}))
	check(err == nil, "CloneVM_Task linked from snapshot (%v)", err)
	if err == nil {
		ref := clone2.(types.ManagedObjectReference)
		cd := disks(ctx, c, ref)
		if check(len(cd) == 1, "linked clone has 1 disk") {
			b := flat(cd[0])
			check(b.Parent != nil && b.Parent.FileName == snapDisk && b.Parent.Uuid == snapUUID && b.FileName != snapDisk &&
				strings.Contains(b.FileName, "clone-linked/") && b.Uuid != snapUUID && exists(localFile(ctx, c, b.FileName)),
				"linked clone: new delta vmdk in the clone folder, parent = source disk at the snapshot (%v)", describeDisks(cd))
			check(cd[0].CapacityInKB == 3*1024*1024, "linked clone capacity as of the snapshot (%d)", cd[0].CapacityInKB)
		}
	}

	// remove snapshot s2 and s1
	_, err = wait(removeSnap(ctx, c, snap2))
	must(pc.RetrieveOne(ctx, vmA.Reference(), []string{"snapshot"}, &vmmo), "snapshot info")
	check(err == nil && vmmo.Snapshot != nil && len(vmmo.Snapshot.RootSnapshotList) == 1 && len(vmmo.Snapshot.RootSnapshotList[0].ChildSnapshotList) == 0,
		"RemoveSnapshot_Task s2: rootSnapshotList = [s1] (%v)", err)
	_, err = wait(removeSnap(ctx, c, snap1))
	vmmo = mo.VirtualMachine{}
	must(pc.RetrieveOne(ctx, vmA.Reference(), []string{"name"}, &vmmo), "snapshot info")
	_ = pc.RetrieveOne(ctx, vmA.Reference(), []string{"snapshot"}, &vmmo)
	check(err == nil && (vmmo.Snapshot == nil || len(vmmo.Snapshot.RootSnapshotList) == 0), "RemoveSnapshot_Task s1: no snapshots left (%v)", err)

	// ---- RelocateVM_Task to another datastore moves the files
	before := disks(ctx, c, vmA.Reference())
	oldFile := localFile(ctx, c, flat(before[0]).FileName)
	ds2 := byName(ctx, c, "Datastore", "LocalDS_1")
	_, err = wait(vmA.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &ds2}, types.VirtualMachineMovePriorityDefaultPriority))
	check(err == nil, "RelocateVM_Task (%v)", err)
	after := disks(ctx, c, vmA.Reference())
	var p object.DatastorePath
	p.FromString(flat(after[0]).FileName)
	must(pc.RetrieveOne(ctx, vmA.Reference(), []string{"datastore", "config.files", "summary.config", "layoutEx"}, &vmmo), "vm")

	check(p.Datastore == "LocalDS_1" && flat(after[0]).Uuid == snapUUID && after[0].CapacityInKB == before[0].CapacityInKB,
		"relocate moved the disk to LocalDS_1, uuid and capacity kept (%v -> %v)", describeDisks(before), describeDisks(after))
	check(!exists(oldFile), "relocate: old file %s is gone", oldFile)
	check(exists(localFile(ctx, c, flat(after[0]).FileName)), "relocate: new file %s exists", localFile(ctx, c, flat(after[0]).FileName))
	check(len(vmmo.Datastore) == 1 && vmmo.Datastore[0] == ds2 && strings.HasPrefix(vmmo.Config.Files.VmPathName, "[LocalDS_1]") &&
		strings.HasPrefix(vmmo.Summary.Config.VmPathName, "[LocalDS_1]"), "relocate updated vm.datastore and config.files (%v %s)", vmmo.Datastore, vmmo.Config.Files.VmPathName)
	var ds2mo mo.Datastore
	must(pc.RetrieveOne(ctx, ds2, []string{"vm"}, &ds2mo), "ds vm")
	found := false
	for _, r := range ds2mo.Vm {
		found = found || r == vmA.Reference()
	}
	check(found, "relocate: Datastore.vm of LocalDS_1 lists the VM")

	// ---- Destroy_Task removes the files
	home := path.Dir(localFile(ctx, c, vmmo.Config.Files.VmPathName))
	_, err = wait(vmA.Destroy(ctx))
	check(err == nil && !exists(home), "Destroy_Task removes the VM folder %s (%v)", home, err)

	// ---- Datastore.vm lists a VM a disk of the datastore is attached to
	checkDatastoreVMs(ctx, c, f1, pool)

	// ---- ViewManager viewList / DestroyView
	var vmgr mo.ViewManager
	vmv := view.NewManager(c)
	cv, err := vmv.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	must(err, "CreateContainerView")
	must(pc.RetrieveOne(ctx, *c.ServiceContent.ViewManager, []string{"viewList"}, &vmgr), "viewList")
	check(containsRef(vmgr.ViewList, cv.Reference()), "ViewManager.viewList lists the new view")
	must(cv.Destroy(ctx), "DestroyView")
	vmgr = mo.ViewManager{}
	_ = pc.RetrieveOne(ctx, *c.ServiceContent.ViewManager, []string{"viewList"}, &vmgr)
	check(!containsRef(vmgr.ViewList, cv.Reference()), "DestroyView removes it from viewList")
}

func containsRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}

func refPtr(r types.ManagedObjectReference) *types.ManagedObjectReference { return &r }

func extraConfig(opts []types.BaseOptionValue) map[string]interface{} {
	m := map[string]interface{}{}
	for _, o := range opts {
		m[o.GetOptionValue().Key] = o.GetOptionValue().Value
	}
	return m
}

func describeDisks(ds []*types.VirtualDisk) string {
	var s []string
	for _, d := range ds {
		b := flat(d)
		parent := ""
		if b.Parent != nil {
			parent = " parent=" + b.Parent.FileName + "/" + b.Parent.Uuid
		}
		s = append(s, fmt.Sprintf("{%s uuid=%s kb=%d bytes=%d%s}", b.FileName, b.Uuid, d.CapacityInKB, d.CapacityInBytes, parent))
	}
	return strings.Join(s, " ")
}

// reconfig starts ReconfigVM_Task and checks the async task contract.
func reconfig(ctx context.Context, vm *object.VirtualMachine, spec types.VirtualMachineConfigSpec) (*object.Task, error) {
	return vm.Reconfigure(ctx, spec)
}

func snapshot(ctx context.Context, c *vim25.Client, vm *object.VirtualMachine, name string) types.ManagedObjectReference {
	res, err := wait(vm.CreateSnapshot(ctx, name, "", false, false))
	must(err, "CreateSnapshot_Task")
	return res.(types.ManagedObjectReference)
}

func revert(ctx context.Context, c *vim25.Client, snap types.ManagedObjectReference) (*object.Task, error) {
	res, err := methods.RevertToSnapshot_Task(ctx, c, &types.RevertToSnapshot_Task{This: snap})
	if err != nil {
		return nil, err
	}
	return object.NewTask(c, res.Returnval), nil
}

func removeSnap(ctx context.Context, c *vim25.Client, snap types.ManagedObjectReference) (*object.Task, error) {
	res, err := methods.RemoveSnapshot_Task(ctx, c, &types.RemoveSnapshot_Task{This: snap, RemoveChildren: false})
	if err != nil {
		return nil, err
	}
	return object.NewTask(c, res.Returnval), nil
}

func createVM(ctx context.Context, c *vim25.Client, folder *object.Folder, pool types.ManagedObjectReference, name, ds string, diskKB int64, extra map[string]string, instanceUuid string) *object.VirtualMachine {
	var devices object.VirtualDeviceList
	scsi, _ := devices.CreateSCSIController("lsilogic")
	devices = append(devices, scsi)
	spec := types.VirtualMachineConfigSpec{
		Name:         name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		InstanceUuid: instanceUuid,
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
	}
	for k, v := range extra {
		spec.ExtraConfig = append(spec.ExtraConfig, &types.OptionValue{Key: k, Value: v})
	}
	if diskKB > 0 {
		disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, "")
		disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName = "[" + ds + "]"
		disk.CapacityInKB = diskKB
		devices = append(devices, disk)
	}
	var err error
	spec.DeviceChange, err = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	must(err, "config spec")

	t0 := time.Now()
	t, err := folder.CreateVM(ctx, spec, object.NewResourcePool(c, pool), nil)
	must(err, "CreateVM_Task")
	var tmo mo.Task
	must(property.DefaultCollector(c).RetrieveOne(ctx, t.Reference(), []string{"info"}, &tmo), "task info")
	check(tmo.Info.State == types.TaskInfoStateRunning, "-task-delay-ms: CreateVM_Task(%s) is returned running (%s)", name, tmo.Info.State)
	info, err := t.WaitForResult(ctx, nil)
	must(err, "CreateVM_Task result")
	check(time.Since(t0) >= 300*time.Millisecond, "-task-delay-ms: CreateVM_Task completes after the delay (%s)", time.Since(t0))
	return object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
}

// checkTraversal uses the recursive traversal spec of oslo.vmware's vim_util.build_recursive_traversal_spec.
func checkTraversal(ctx context.Context, c *vim25.Client, nvms, nds int) {
	sel := func(name string) types.BaseSelectionSpec { return &types.SelectionSpec{Name: name} }
	ts := func(name, kind, p string, ss ...types.BaseSelectionSpec) *types.TraversalSpec {
		return &types.TraversalSpec{SelectionSpec: types.SelectionSpec{Name: name}, Type: kind, Path: p, Skip: types.NewBool(false), SelectSet: ss}
	}
	rpToRp := ts("rp_to_rp", "ResourcePool", "resourcePool", sel("rp_to_rp"), sel("rp_to_vm"))
	rpToVm := ts("rp_to_vm", "ResourcePool", "vm", sel("rp_to_rp"), sel("rp_to_vm"))
	specs := []types.BaseSelectionSpec{
		ts("dc_to_hf", "Datacenter", "hostFolder", sel("visit_folders")),
		ts("dc_to_vmf", "Datacenter", "vmFolder", sel("visit_folders")),
		ts("h_to_vm", "HostSystem", "vm", sel("visit_folders")),
		ts("cr_to_h", "ComputeResource", "host"),
		ts("cr_to_ds", "ComputeResource", "datastore"),
		ts("cr_to_rp", "ComputeResource", "resourcePool", sel("rp_to_rp"), sel("rp_to_vm")),
		rpToRp, rpToVm,
	}
	visit := ts("visit_folders", "Folder", "childEntity", sel("visit_folders"), sel("dc_to_hf"), sel("dc_to_vmf"),
		sel("cr_to_ds"), sel("cr_to_h"), sel("cr_to_rp"), sel("rp_to_rp"), sel("h_to_vm"), sel("rp_to_vm"))
	specs = append([]types.BaseSelectionSpec{visit}, specs...)

	for _, kind := range []string{"VirtualMachine", "HostSystem", "Datastore", "ResourcePool"} {
		req := types.RetrievePropertiesEx{
			This: c.ServiceContent.PropertyCollector,
			SpecSet: []types.PropertyFilterSpec{{
				PropSet:   []types.PropertySpec{{Type: kind, PathSet: []string{"name"}}},
				ObjectSet: []types.ObjectSpec{{Obj: c.ServiceContent.RootFolder, Skip: types.NewBool(false), SelectSet: specs}},
			}},
		}
		res, err := methods.RetrievePropertiesEx(ctx, c, &req)
		n := 0
		if err == nil && res.Returnval != nil {
			n = len(res.Returnval.Objects)
		}
		want := map[string]int{"VirtualMachine": nvms, "HostSystem": 4, "Datastore": nds, "ResourcePool": 2}[kind]
		check(err == nil && n == want, "recursive traversal spec (oslo.vmware) from rootFolder finds %d %s (%d, %v)", want, kind, n, err)
	}
}

func checkPaging(ctx context.Context, c *vim25.Client, nvms int) {
	checkPagingN(ctx, c, nvms, 4)
}

func checkPagingN(ctx context.Context, c *vim25.Client, nvms int, max int32) {
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	must(err, "view")
	defer v.Destroy(ctx)
	spec := func(kind string) []types.PropertyFilterSpec {
		return []types.PropertyFilterSpec{{
			PropSet: []types.PropertySpec{{Type: kind, PathSet: []string{"name"}}},
			ObjectSet: []types.ObjectSpec{{Obj: v.Reference(), Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
				&types.TraversalSpec{Type: "ContainerView", Path: "view", Skip: types.NewBool(false)}}}},
		}}
	}
	res, err := methods.RetrievePropertiesEx(ctx, c, &types.RetrievePropertiesEx{
		This: c.ServiceContent.PropertyCollector, SpecSet: spec("VirtualMachine"), Options: types.RetrieveOptions{MaxObjects: max}})
	if !check(err == nil && res.Returnval != nil, "RetrievePropertiesEx maxObjects=%d (%v)", max, err) {
		return
	}
	r := res.Returnval
	check(len(r.Objects) == int(max) && r.Token != "", "first page: %d objects and a token (%d %q)", max, len(r.Objects), r.Token)
	total := len(r.Objects)
	pages := 1
	for r.Token != "" && pages < 10000 {
		cres, err := methods.ContinueRetrievePropertiesEx(ctx, c, &types.ContinueRetrievePropertiesEx{This: c.ServiceContent.PropertyCollector, Token: r.Token})
		if !check(err == nil, "ContinueRetrievePropertiesEx (%v)", err) {
			return
		}
		r = &cres.Returnval
		total += len(r.Objects)
		pages++
	}
	check(total == nvms && pages == (nvms+int(max)-1)/int(max) && r.Token == "", "paging returned all %d VMs in %d pages, no token on the last (%d)", nvms, pages, total)

	_, err = methods.ContinueRetrievePropertiesEx(ctx, c, &types.ContinueRetrievePropertiesEx{This: c.ServiceContent.PropertyCollector, Token: "bogus"})
	_, inv := faultOf(err).(*types.InvalidArgument)
	check(inv, "ContinueRetrievePropertiesEx unknown token: InvalidArgument (%v)", err)

	res, err = methods.RetrievePropertiesEx(ctx, c, &types.RetrievePropertiesEx{
		This: c.ServiceContent.PropertyCollector, SpecSet: spec("VirtualMachine"), Options: types.RetrieveOptions{MaxObjects: 1}})
	must(err, "RetrievePropertiesEx")
	_, err = methods.CancelRetrievePropertiesEx(ctx, c, &types.CancelRetrievePropertiesEx{This: c.ServiceContent.PropertyCollector, Token: res.Returnval.Token})
	check(err == nil, "CancelRetrievePropertiesEx (%v)", err)
	_, err = methods.ContinueRetrievePropertiesEx(ctx, c, &types.ContinueRetrievePropertiesEx{This: c.ServiceContent.PropertyCollector, Token: res.Returnval.Token})
	_, inv = faultOf(err).(*types.InvalidArgument)
	check(inv, "ContinueRetrievePropertiesEx after Cancel: InvalidArgument (%v)", err)

	res, err = methods.RetrievePropertiesEx(ctx, c, &types.RetrievePropertiesEx{This: c.ServiceContent.PropertyCollector, SpecSet: spec("HostSystem")})
	check(err == nil && res.Returnval == nil, "RetrievePropertiesEx matching nothing returns no RetrieveResult (%v)", err)
}

func checkKeyed(ctx context.Context, c *vim25.Client, vm types.ManagedObjectReference, diskKey int32) {
	paths := []string{`config.extraConfig["cinder.volume.id"]`, `config.extraConfig["missing.key"]`, fmt.Sprintf("config.hardware.device[%d]", diskKey),
		fmt.Sprintf("config.hardware.device[%d].backing.fileName", diskKey)}
	res, err := methods.RetrievePropertiesEx(ctx, c, &types.RetrievePropertiesEx{
		This: c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: paths}},
			ObjectSet: []types.ObjectSpec{{Obj: vm}},
		}},
	})
	if !check(err == nil && res.Returnval != nil && len(res.Returnval.Objects) == 1, "RetrievePropertiesEx keyed paths (%v)", err) {
		return
	}
	o := res.Returnval.Objects[0]
	props := map[string]interface{}{}
	for _, p := range o.PropSet {
		props[p.Name] = p.Val
	}
	ov, ok := props[paths[0]].(types.OptionValue)
	check(ok && ov.Key == "cinder.volume.id" && ov.Value == "a", `config.extraConfig["cinder.volume.id"] is the OptionValue (%#v)`, props[paths[0]])
	_, has := props[paths[1]]
	check(!has && len(o.MissingSet) == 0, "a missing extraConfig key is left unset, no missingSet (%v %v)", has, o.MissingSet)
	d, ok := props[paths[2]].(types.VirtualDisk)
	check(ok && d.Key == diskKey, "config.hardware.device[key] is the device (%T)", props[paths[2]])
	fn, ok := props[paths[3]].(string)
	check(ok && strings.HasSuffix(fn, ".vmdk"), "config.hardware.device[key].backing.fileName (%v)", props[paths[3]])

	// same through suds-like typed retrieval: property.Collector Retrieve
	var content []types.ObjectContent
	err = property.DefaultCollector(c).Retrieve(ctx, []types.ManagedObjectReference{vm}, []string{`config.extraConfig["vmware.x"]`}, &content)
	check(err == nil && len(content) == 1 && len(content[0].PropSet) == 1, "property.Collector.Retrieve of a keyed path (%v)", err)
}

func checkFindAllByUuid(ctx context.Context, c *vim25.Client, dc *object.Datacenter, vm types.ManagedObjectReference) {
	var m mo.VirtualMachine
	must(property.DefaultCollector(c).RetrieveOne(ctx, vm, []string{"config.uuid", "config.instanceUuid"}, &m), "uuids")
	si := object.NewSearchIndex(c)
	t, f := true, false
	refs, err := si.FindAllByUuid(ctx, dc, m.Config.InstanceUuid, true, &t)
	check(err == nil && len(refs) == 1 && refs[0].Reference() == vm && m.Config.InstanceUuid == "11111111-2222-3333-4444-555555555555",
		"FindAllByUuid(instanceUuid=true, datacenter) finds the VM (%v %v)", refs, err)
	refs, err = si.FindAllByUuid(ctx, nil, m.Config.Uuid, true, &f)
	check(err == nil && len(refs) == 1 && refs[0].Reference() == vm, "FindAllByUuid(instanceUuid=false) matches config.uuid (%v %v)", refs, err)
	refs, err = si.FindAllByUuid(ctx, nil, m.Config.InstanceUuid, true, &f)
	check(err == nil && len(refs) == 0, "FindAllByUuid(instanceUuid=false) does not match instanceUuid (%v %v)", refs, err)
	refs, err = si.FindAllByUuid(ctx, nil, "00000000-0000-0000-0000-000000000000", true, &t)
	check(err == nil && len(refs) == 0, "FindAllByUuid of an unknown uuid: empty (%v %v)", refs, err)
	var h mo.HostSystem
	host := allRefs(ctx, c, "HostSystem")[0]
	must(property.DefaultCollector(c).RetrieveOne(ctx, host, []string{"summary.hardware"}, &h), "host uuid")
	refs, err = si.FindAllByUuid(ctx, nil, h.Summary.Hardware.Uuid, false, nil)
	check(err == nil && len(refs) >= 1 && refs[0].Reference().Type == "HostSystem", "FindAllByUuid(vmSearch=false) finds hosts (%v %v)", refs, err)
}

// ---- task faults, CancelTask, session termination (patches 0006, 0007)

// control sends a request to the /testbed/ control endpoint.
func (s *sim) control(method, p, body string) (int, string) {
	u := url.URL{Scheme: s.url.Scheme, Host: s.url.Host, Path: p}
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	must(err, "control request")
	res, err := http.DefaultClient.Do(req)
	must(err, "control "+method+" "+p)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (s *sim) setRules(rules string) {
	code, body := s.control("PUT", "/testbed/task-faults", `{"rules": `+rules+`}`)
	if code != 200 {
		panic(fmt.Sprintf("PUT /testbed/task-faults %s: %d %s", rules, code, body))
	}
}

func taskInfo(ctx context.Context, c *vim25.Client, t *object.Task) types.TaskInfo {
	var tmo mo.Task
	must(property.DefaultCollector(c).RetrieveOne(ctx, t.Reference(), []string{"info"}, &tmo), "task info")
	return tmo.Info
}

func taskFault(info types.TaskInfo) types.BaseMethodFault {
	if info.Error == nil {
		return nil
	}
	return info.Error.Fault
}

func isInjected(f types.BaseMethodFault) bool {
	se, ok := f.(*types.SystemError)
	return ok && se.Reason == "injected by testbed"
}

func cancelTask(ctx context.Context, c *vim25.Client, t *object.Task) error {
	_, err := methods.CancelTask(ctx, c, &types.CancelTask{This: t.Reference()})
	return err
}

// waitDone polls a task until it is success or error (at most 10s).
func waitDone(ctx context.Context, c *vim25.Client, t *object.Task) types.TaskInfo {
	for i := 0; ; i++ {
		info := taskInfo(ctx, c, t)
		if info.State == types.TaskInfoStateSuccess || info.State == types.TaskInfoStateError || i == 200 {
			return info
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func vmNamed(ctx context.Context, c *vim25.Client, name string) bool {
	for _, ref := range allRefs(ctx, c, "VirtualMachine") {
		var e mo.ManagedEntity
		if err := property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"name"}, &e); err == nil && e.Name == name {
			return true
		}
	}
	return false
}

func startCreateVM(ctx context.Context, c *vim25.Client, folder *object.Folder, pool types.ManagedObjectReference, name string) *object.Task {
	t, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name:    name,
		GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files:   &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}, object.NewResourcePool(c, pool), nil)
	must(err, "CreateVM_Task "+name)
	return t
}

func runFaults(bin string) {
	ctx := context.Background()
	const delay = 200
	s := start(bin, "-task-delay-ms", fmt.Sprint(delay))
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	s.dirs = append(s.dirs, dsLocalPath(ctx, c, "LocalDS_0"), dsLocalPath(ctx, c, "LocalDS_1"))
	folder, pool := vmFolderAndPool(ctx, c)
	src := object.NewVirtualMachine(c, byName(ctx, c, "VirtualMachine", "DC0_C0_RP0_VM0"))
	clone := func(name string) *object.Task {
		t, err := src.Clone(ctx, folder, name, types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Pool: &pool}})
		must(err, "CloneVM_Task "+name)
		return t
	}

	// ---- control endpoint
	code, body := s.control("GET", "/testbed/task-faults", "")
	check(code == 200 && strings.TrimSpace(body) == `{"rules":[]}`, "GET /testbed/task-faults: no rules at start (%d %s)", code, body)
	for _, bad := range []string{`{"rules": [{"method": "CreateVM_Task", "outcome": "explode"}]}`, `{"rules": [`, `{"rules": [{"method": "CreateVM_Task", "outcome": "hang", "bogus": 1}]}`,
		`{"rules": [{"method": "CreateVM", "outcome": "hang"}]}`, `{"rules": [{"method": "*", "outcome": "hang", "times": -1}]}`, `{}`} {
		code, body = s.control("PUT", "/testbed/task-faults", bad)
		check(code == 400 && body != "", "PUT /testbed/task-faults %s: 400 (%d %q)", bad, code, strings.TrimSpace(body))
	}
	code, body = s.control("PUT", "/testbed/task-faults", `{"rules": [{"method": "CreateVM_Task", "outcome": "explode"}]}`)
	check(strings.Contains(body, `unknown outcome "explode"`), "an unknown outcome is named in the 400 text (%q)", strings.TrimSpace(body))
	code, _ = s.control("POST", "/testbed/task-faults", "{}")
	check(code == 405, "POST /testbed/task-faults: 405 (%d)", code)

	// ---- CancelTask
	t := clone("cancelled-clone")
	info := taskInfo(ctx, c, t)
	check(info.State == types.TaskInfoStateRunning && info.Cancelable, "CloneVM_Task under -task-delay-ms: running, cancelable (%s %v)", info.State, info.Cancelable)
	err = cancelTask(ctx, c, t)
	info = taskInfo(ctx, c, t)
	_, canceled := taskFault(info).(*types.RequestCanceled)
	check(err == nil && info.State == types.TaskInfoStateError && canceled && info.Cancelled,
		"CancelTask on a running CloneVM_Task: error RequestCanceled, cancelled=true (%v %s %T %v)", err, info.State, taskFault(info), info.Cancelled)
	err = cancelTask(ctx, c, t)
	_, invalid := faultOf(err).(*types.InvalidState)
	check(invalid, "CancelTask on a cancelled task: InvalidState (%v)", err)
	time.Sleep(2 * delay * time.Millisecond)
	check(!vmNamed(ctx, c, "cancelled-clone"), "cancelled CloneVM_Task left no VM after its delay")
	info = taskInfo(ctx, c, t)
	check(info.State == types.TaskInfoStateError, "cancelled task stays in error (%s)", info.State)

	t = clone("done-clone")
	info = waitDone(ctx, c, t)
	err = cancelTask(ctx, c, t)
	_, invalid = faultOf(err).(*types.InvalidState)
	check(info.State == types.TaskInfoStateSuccess && !info.Cancelable && invalid,
		"CancelTask on a succeeded task: InvalidState; cancelable false once the work ran (%s %v %v)", info.State, info.Cancelable, err)

	t = startCreateVM(ctx, c, folder, pool, "not-cancelable")
	info = taskInfo(ctx, c, t)
	err = cancelTask(ctx, c, t)
	_, unsupported := faultOf(err).(*types.NotSupported)
	check(info.State == types.TaskInfoStateRunning && !info.Cancelable && unsupported, "CancelTask on a running CreateVM_Task (not cancelable in vCenter): NotSupported (%s %v %v)", info.State, info.Cancelable, err)
	info = waitDone(ctx, c, t)
	check(info.State == types.TaskInfoStateSuccess && vmNamed(ctx, c, "not-cancelable"), "... and the CreateVM_Task still completes (%s)", info.State)

	// ---- outcomes
	s.setRules(`[{"method": "CreateVM_Task", "delay_ms": 100, "outcome": "error-before"}]`)
	t = startCreateVM(ctx, c, folder, pool, "error-before")
	info = waitDone(ctx, c, t)
	check(info.State == types.TaskInfoStateError && isInjected(taskFault(info)) && !vmNamed(ctx, c, "error-before"),
		"error-before: CreateVM_Task fails with SystemError(injected by testbed) and leaves no VM (%s %#v)", info.State, taskFault(info))

	s.setRules(`[{"method": "CreateVM_Task", "delay_ms": 100, "outcome": "error-after"}]`)
	t = startCreateVM(ctx, c, folder, pool, "error-after")
	info = waitDone(ctx, c, t)
	check(info.State == types.TaskInfoStateError && isInjected(taskFault(info)) && vmNamed(ctx, c, "error-after"),
		"error-after: CreateVM_Task fails with SystemError(injected by testbed) but the VM exists (%s %#v)", info.State, taskFault(info))

	target := object.NewVirtualMachine(c, byName(ctx, c, "VirtualMachine", "error-after"))
	setKey := func(v string) types.TaskInfo {
		t, err := target.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "testbed.key", Value: v}}})
		must(err, "ReconfigVM_Task")
		return waitDone(ctx, c, t)
	}
	keyOf := func() interface{} {
		var vm mo.VirtualMachine
		must(property.DefaultCollector(c).RetrieveOne(ctx, target.Reference(), []string{"config.extraConfig"}, &vm), "extraConfig")
		return extraConfig(vm.Config.ExtraConfig)["testbed.key"]
	}
	s.setRules(`[{"method": "ReconfigVM_Task", "delay_ms": 0, "outcome": "error-after"}]`)
	info = setKey("after")
	check(info.State == types.TaskInfoStateError && isInjected(taskFault(info)) && keyOf() == "after", "error-after (delay 0): ReconfigVM_Task fails but the change is applied (%s %v)", info.State, keyOf())
	s.setRules(`[{"method": "ReconfigVM_Task", "delay_ms": 0, "outcome": "error-before"}]`)
	info = setKey("before")
	check(info.State == types.TaskInfoStateError && isInjected(taskFault(info)) && keyOf() == "after", "error-before (delay 0): ReconfigVM_Task fails and changes nothing (%s %v)", info.State, keyOf())

	s.setRules(`[{"method": "CloneVM_Task", "outcome": "hang"}]`)
	t = clone("hung-clone")
	time.Sleep(3 * delay * time.Millisecond)
	info = taskInfo(ctx, c, t)
	check(info.State == types.TaskInfoStateRunning && info.Cancelable && !vmNamed(ctx, c, "hung-clone"), "hang: CloneVM_Task still running after 3x the delay, no VM (%s)", info.State)
	err = cancelTask(ctx, c, t)
	info = taskInfo(ctx, c, t)
	_, canceled = taskFault(info).(*types.RequestCanceled)
	check(err == nil && canceled && info.Cancelled && !vmNamed(ctx, c, "hung-clone"), "hang: CancelTask ends it with RequestCanceled, no VM (%v %T)", err, taskFault(info))

	s.setRules(`[{"method": "CreateVM_Task", "outcome": "hang", "cancelable": true}]`)
	t = startCreateVM(ctx, c, folder, pool, "hung-create")
	info = taskInfo(ctx, c, t)
	err = cancelTask(ctx, c, t)
	time.Sleep(2 * delay * time.Millisecond)
	check(info.Cancelable && err == nil && !vmNamed(ctx, c, "hung-create"), "hang with \"cancelable\": true on CreateVM_Task: cancelled, no VM (%v)", err)

	// nested tasks are not matched: CloneVM_Task runs CreateVM_Task inside
	s.setRules(`[{"method": "CreateVM_Task", "outcome": "error-before"}]`)
	info = waitDone(ctx, c, clone("nested-clone"))
	check(info.State == types.TaskInfoStateSuccess && vmNamed(ctx, c, "nested-clone"), "a CreateVM_Task rule does not affect the CreateVM_Task nested in CloneVM_Task (%s)", info.State)

	// times, first matching rule with uses left, "*", delay 0 overrides -task-delay-ms
	s.setRules(`[{"method": "CreateSnapshot_Task", "outcome": "error-before", "times": 2}, {"method": "*", "delay_ms": 0, "outcome": "success", "times": 1}]`)
	var states []string
	for i := 0; i < 3; i++ {
		t, err := target.CreateSnapshot(ctx, fmt.Sprintf("s%d", i), "", false, false)
		must(err, "CreateSnapshot_Task")
		states = append(states, string(waitDone(ctx, c, t).State))
	}
	check(strings.Join(states, ",") == "error,error,success", "times 2: two CreateSnapshot_Task fail, the third is matched by \"*\" (%v)", states)
	code, body = s.control("GET", "/testbed/task-faults", "")
	var got struct {
		Rules []struct {
			Method    string `json:"method"`
			Matched   int    `json:"matched"`
			Remaining *int   `json:"remaining"`
		} `json:"rules"`
	}
	_ = json.Unmarshal([]byte(body), &got)
	check(code == 200 && len(got.Rules) == 2 && got.Rules[0].Remaining != nil && *got.Rules[0].Remaining == 0 && got.Rules[0].Matched == 2 &&
		got.Rules[1].Remaining != nil && *got.Rules[1].Remaining == 0, "GET /testbed/task-faults counts remaining/matched (%s)", strings.TrimSpace(body))
	t, err = target.PowerOff(ctx)
	must(err, "PowerOffVM_Task")
	info = taskInfo(ctx, c, t)
	check(info.State == types.TaskInfoStateRunning, "rules used up: -task-delay-ms applies again (%s)", info.State)
	waitDone(ctx, c, t)

	code, body = s.control("DELETE", "/testbed/task-faults", "")
	check(code == 200 && strings.TrimSpace(body) == `{"rules":[]}`, "DELETE /testbed/task-faults clears the rules (%d %s)", code, body)
	s.setRules(`[{"method": "*", "outcome": "success"}]`)
	code, body = s.control("GET", "/testbed/task-faults", "")
	check(strings.Contains(body, `"remaining":null`), "times 0: remaining is null (unlimited) (%s)", strings.TrimSpace(body))
	s.control("DELETE", "/testbed/task-faults", "")

	checkSessions(ctx, s, c)
}

func userSession(ctx context.Context, c *vim25.Client) *types.UserSession {
	us, err := session.NewManager(c).UserSession(ctx)
	must(err, "currentSession")
	if us == nil {
		panic("no currentSession")
	}
	return us
}

func terminate(ctx context.Context, c *vim25.Client, keys ...string) error {
	_, err := methods.TerminateSession(ctx, c, &types.TerminateSession{This: *c.ServiceContent.SessionManager, SessionId: keys})
	return err
}

func notAuthenticated(ctx context.Context, c *vim25.Client) (bool, error) {
	_, err := methods.GetCurrentTime(ctx, c)
	_, ok := faultOf(err).(*types.NotAuthenticated)
	return ok, err
}

func checkSessions(ctx context.Context, s *sim, admin *vim25.Client) {
	a, err := s.client(ctx, "user", "pass")
	must(err, "login a")
	b, err := s.client(ctx, "user", "pass")
	must(err, "login b")
	ka := userSession(ctx, a).Key
	cookie := ""
	for _, ck := range a.Client.Jar.Cookies(s.url) {
		if ck.Name == "vmware_soap_session" {
			cookie = ck.Value
		}
	}
	check(cookie == ka, "the vmware_soap_session cookie value is the UserSession.key (%q %q)", cookie, ka)

	err = terminate(ctx, b, userSession(ctx, b).Key)
	_, invalid := faultOf(err).(*types.InvalidArgument)
	check(invalid, "TerminateSession of the caller's own session: InvalidArgument (%v)", err)
	err = terminate(ctx, b, ka, "no-such-session")
	_, notFound := faultOf(err).(*types.NotFound)
	ok, _ := notAuthenticated(ctx, a)
	check(notFound && !ok, "TerminateSession with an unknown key: NotFound, and the valid key in the same call is left alone (%v)", err)
	check(terminate(ctx, b, ka) == nil, "TerminateSession(other session's key) succeeds")
	ok, err = notAuthenticated(ctx, a)
	check(ok, "the terminated session's next call: NotAuthenticated (%v)", err)
	_, err = methods.GetCurrentTime(ctx, b)
	check(err == nil, "the terminating session still works (%v)", err)
	err = terminate(ctx, b, ka)
	_, notFound = faultOf(err).(*types.NotFound)
	check(notFound, "terminating it again: NotFound (%v)", err)

	// POST /testbed/expire-sessions
	c1, err := s.client(ctx, "user", "pass")
	must(err, "login c1")
	c2, err := s.client(ctx, "user", "pass")
	must(err, "login c2")
	k1, k2, kadmin := userSession(ctx, c1).Key, userSession(ctx, c2).Key, userSession(ctx, admin).Key
	code, body := s.control("POST", "/testbed/expire-sessions", fmt.Sprintf(`{"except": [%q, %q]}`, k1, kadmin))
	var res struct {
		Expired []string `json:"expired"`
	}
	_ = json.Unmarshal([]byte(body), &res)
	check(code == 200 && containsString(res.Expired, k2) && !containsString(res.Expired, k1) && !containsString(res.Expired, kadmin),
		"POST /testbed/expire-sessions {except}: lists the expired keys (%d %s)", code, strings.TrimSpace(body))
	ok2, _ := notAuthenticated(ctx, c2)
	ok1, _ := notAuthenticated(ctx, c1)
	okb, _ := notAuthenticated(ctx, b)
	check(ok2 && okb && !ok1, "expire-sessions: expired sessions get NotAuthenticated, the excepted one works (%v %v %v)", ok2, okb, ok1)
	code, body = s.control("POST", "/testbed/expire-sessions", "")
	ok1, _ = notAuthenticated(ctx, c1)
	check(code == 200 && strings.Contains(body, k1) && ok1, "POST /testbed/expire-sessions without a body expires every session (%d %s)", code, strings.TrimSpace(body))
	code, _ = s.control("POST", "/testbed/expire-sessions", `{"except": "x"}`)
	check(code == 400, "expire-sessions with a bad body: 400 (%d)", code)
	code, _ = s.control("GET", "/testbed/expire-sessions", "")
	check(code == 405, "GET /testbed/expire-sessions: 405 (%d)", code)
	_, err = s.client(ctx, "user", "pass")
	check(err == nil, "a new Login works after expire-sessions (%v)", err)
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// checkDatastoreVMs: attaching a disk of LocalDS_0 to a VM living on
// LocalDS_1 lists that VM in LocalDS_0's Datastore.vm, as vCenter does
// (patch 0008).
func checkDatastoreVMs(ctx context.Context, c *vim25.Client, folder *object.Folder, pool types.ManagedObjectReference) {
	pc := property.DefaultCollector(c)
	owner := createVM(ctx, c, folder, pool, "volume-dsvm", "LocalDS_0", 1024, nil, "")
	d := disks(ctx, c, owner.Reference())
	inst := createVM(ctx, c, folder, pool, "instance-dsvm", "LocalDS_1", 0, nil, "")
	ds0 := byName(ctx, c, "Datastore", "LocalDS_0")
	var before mo.Datastore
	must(pc.RetrieveOne(ctx, ds0, []string{"vm"}, &before), "ds vm")
	check(!containsRef(before.Vm, inst.Reference()), "Datastore.vm of LocalDS_0 does not list a VM of LocalDS_1 before the attach")
	dev, err := inst.Device(ctx)
	must(err, "devices")
	ctrl, err := dev.FindDiskController("scsi")
	must(err, "scsi controller")
	att := dev.CreateDisk(ctrl, types.ManagedObjectReference{}, flat(d[0]).FileName)
	att.CapacityInKB = 0
	_, err = wait(reconfig(ctx, inst, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: att},
	}}))
	check(err == nil, "ReconfigVM_Task attaches a disk of LocalDS_0 to a VM on LocalDS_1 (%v)", err)
	var after mo.Datastore
	must(pc.RetrieveOne(ctx, ds0, []string{"vm"}, &after), "ds vm")
	check(containsRef(after.Vm, inst.Reference()), "Datastore.vm of LocalDS_0 lists the VM its disk is attached to (%v)", after.Vm)
}

// checkBrowser (patch 0021): SearchDatastore_Task with a VmDiskFileQuery
// reports a .vmdk as VmDiskFileInfo with the descriptor's capacityKb (when
// details.capacityKb is asked), and never the -flat file.
func checkBrowser(ctx context.Context, finder *find.Finder, file string, wantKB int64) {
	var p object.DatastorePath
	if !p.FromString(file) {
		check(false, "parse %q", file)
		return
	}
	ds, err := finder.Datastore(ctx, p.Datastore)
	must(err, "datastore "+p.Datastore)
	browser, err := ds.Browser(ctx)
	must(err, "datastore browser")
	search := func(details *types.VmDiskFileQueryFlags) []types.BaseFileInfo {
		spec := types.HostDatastoreBrowserSearchSpec{
			MatchPattern: []string{"*.vmdk"},
			Query:        []types.BaseFileQuery{&types.VmDiskFileQuery{Details: details}},
		}
		t, err := browser.SearchDatastore(ctx, "["+p.Datastore+"] "+path.Dir(p.Path), &spec)
		if err == nil {
			var info *types.TaskInfo
			info, err = t.WaitForResult(ctx, nil)
			if err == nil {
				return info.Result.(types.HostDatastoreBrowserSearchResults).File
			}
		}
		check(false, "SearchDatastore_Task (%v)", err)
		return nil
	}
	for _, details := range []*types.VmDiskFileQueryFlags{{CapacityKb: true, DiskType: true}, nil} {
		var found *types.VmDiskFileInfo
		flat := false
		for _, f := range search(details) {
			if strings.HasSuffix(f.GetFileInfo().Path, "-flat.vmdk") {
				flat = true
			}
			if d, ok := f.(*types.VmDiskFileInfo); ok && d.Path == path.Base(p.Path) {
				found = d
			}
		}
		want := int64(0)
		if details != nil {
			want = wantKB
		}
		check(found != nil && found.CapacityKb == want && !flat,
			"SearchDatastore_Task VmDiskFileQuery (details %v) lists %s as VmDiskFileInfo, capacityKb %d, no -flat file (%+v)",
			details != nil, p.Path, want, found)
	}
}

// checkRenameSnapshot (patch 0022): VirtualMachineSnapshot.RenameSnapshot
// renames the node of the VM's snapshot tree; a removed snapshot is
// ManagedObjectNotFound.
func checkRenameSnapshot(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) {
	vm := object.NewVirtualMachine(c, ref)
	t, err := vm.CreateSnapshot(ctx, "nightly", "outside", false, false)
	must(err, "CreateSnapshot_Task")
	info, err := t.WaitForResult(ctx, nil)
	must(err, "CreateSnapshot_Task result")
	snap := info.Result.(types.ManagedObjectReference)
	_, err = methods.RenameSnapshot(ctx, c, &types.RenameSnapshot{This: snap, Name: "snapshot-x", Description: "imported"})
	var mvm mo.VirtualMachine
	must(property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"snapshot"}, &mvm), "snapshot tree")
	var names, descriptions []string
	if mvm.Snapshot != nil {
		for _, tree := range mvm.Snapshot.RootSnapshotList {
			names = append(names, tree.Name)
			descriptions = append(descriptions, tree.Description)
		}
	}
	check(err == nil && reflect.DeepEqual(names, []string{"snapshot-x"}) && reflect.DeepEqual(descriptions, []string{"imported"}),
		"RenameSnapshot renames the snapshot tree node (%v %v %v)", err, names, descriptions)
	rt, err := vm.RemoveSnapshot(ctx, snap.Value, false, nil)
	if err == nil {
		err = rt.Wait(ctx)
	}
	must(err, "RemoveSnapshot_Task")
	_, err = methods.RenameSnapshot(ctx, c, &types.RenameSnapshot{This: snap, Name: "again"})
	_, gone := faultOf(err).(*types.ManagedObjectNotFound)
	check(gone, "RenameSnapshot of a removed snapshot: ManagedObjectNotFound (%v)", err)
}
