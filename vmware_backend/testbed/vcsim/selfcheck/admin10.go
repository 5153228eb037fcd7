package main

// Checks of the admin10 test bed patches: 0050 (disk edits in a clone
// spec's config, edits without deviceInfo), 0051 (VirtualDiskManager
// provisioning: disk and adapter type, inflate, eager-zero), 0052
// (ClusterComputeResource.Destroy_Task).

import (
	"context"
	"os"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func runAdmin10(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	pc := property.DefaultCollector(c)

	src := byName(ctx, c, "VirtualMachine", "DC0_H0_VM0")
	var vm mo.VirtualMachine
	must(pc.RetrieveOne(ctx, src, []string{"parent", "resourcePool", "datastore"}, &vm), "source")
	before := disks(ctx, c, src)[0]
	edit := &types.VirtualDisk{VirtualDevice: types.VirtualDevice{
		Key: before.Key, ControllerKey: before.ControllerKey, UnitNumber: before.UnitNumber,
		Backing: before.Backing}, CapacityInKB: before.CapacityInKB,
		StorageIOAllocation: &types.StorageIOAllocationInfo{Limit: types.NewInt64(300),
			Shares: &types.SharesInfo{Level: types.SharesLevelCustom, Shares: 1500}}}
	spec := types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Pool: vm.ResourcePool, Datastore: &vm.Datastore[0]},
		Config: &types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: edit}}},
	}
	res, err := wait(object.NewVirtualMachine(c, src).Clone(ctx, object.NewFolder(c, *vm.Parent), "qos-clone", spec))
	check(err == nil, "0050: CloneVM_Task with a disk edit (no deviceInfo) in spec.config succeeds (%v)", err)
	if err != nil {
		return
	}
	cd := disks(ctx, c, res.(types.ManagedObjectReference))
	ok := len(cd) == 1 && cd[0].StorageIOAllocation != nil && cd[0].StorageIOAllocation.Limit != nil &&
		*cd[0].StorageIOAllocation.Limit == 300 && cd[0].StorageIOAllocation.Shares.Shares == 1500
	check(ok, "0050: the clone's disk has the edit's storageIOAllocation (limit 300, 1500 shares) (%s)", describeDisks(cd))
	check(len(cd) == 1 && flat(cd[0]).FileName != flat(before).FileName && exists(localFile(ctx, c, flat(cd[0]).FileName)),
		"0050: the edited clone disk keeps its own new vmdk, not the source's (%s vs %s)", describeDisks(cd), flat(before).FileName)
	after := disks(ctx, c, src)[0]
	lim := after.StorageIOAllocation
	check(flat(after).FileName == flat(before).FileName && (lim == nil || lim.Limit == nil || *lim.Limit == -1),
		"0050: the source's disk keeps its file and has no limit (%s)", describeDisks([]*types.VirtualDisk{after}))

	// a plain reconfigure edit without deviceInfo
	edit2 := &types.VirtualDisk{VirtualDevice: types.VirtualDevice{
		Key: after.Key, ControllerKey: after.ControllerKey, UnitNumber: after.UnitNumber,
		Backing: after.Backing}, CapacityInKB: after.CapacityInKB,
		StorageIOAllocation: &types.StorageIOAllocationInfo{Limit: types.NewInt64(700)}}
	_, err = wait(object.NewVirtualMachine(c, src).Reconfigure(ctx, types.VirtualMachineConfigSpec{
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: edit2}}}))
	d := disks(ctx, c, src)
	check(err == nil && len(d) == 1 && d[0].StorageIOAllocation != nil && *d[0].StorageIOAllocation.Limit == 700 &&
		flat(d[0]).FileName == flat(before).FileName,
		"0050: ReconfigVM_Task edit without deviceInfo sets the limit and keeps the file (%v %s)", err, describeDisks(d))

	checkDiskProvisioning(ctx, s)
	checkClusterDestroy(ctx, s)
}

func checkClusterDestroy(ctx context.Context, s *sim) {
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	must(err, "datacenter")
	folders, err := dc.Folders(ctx)
	must(err, "folders")
	cluster, err := folders.HostFolder.CreateCluster(ctx, "selfcheck-cluster", types.ClusterConfigSpecEx{})
	must(err, "CreateClusterEx")
	var cr mo.ClusterComputeResource
	must(property.DefaultCollector(c).RetrieveOne(ctx, cluster.Reference(), []string{"resourcePool", "host"}, &cr), "cluster")
	_, err = wait(cluster.Destroy(ctx))
	check(err == nil, "0052: Destroy_Task of an empty cluster succeeds (%v)", err)
	var left []mo.ManagedEntity
	err = property.DefaultCollector(c).Retrieve(ctx, []types.ManagedObjectReference{cluster.Reference()}, []string{"name"}, &left)
	_, gone := faultOf(err).(*types.ManagedObjectNotFound)
	check(gone || len(left) == 0, "0052: the destroyed cluster is gone (%v %d)", err, len(left))
	err = property.DefaultCollector(c).Retrieve(ctx, []types.ManagedObjectReference{*cr.ResourcePool}, []string{"name"}, &left)
	_, gone = faultOf(err).(*types.ManagedObjectNotFound)
	check(gone || len(left) == 0, "0052: its root resource pool is gone (%v %d)", err, len(left))
	full := object.NewClusterComputeResource(c, byName(ctx, c, "ClusterComputeResource", "DC0_C0"))
	_, err = wait(full.Destroy(ctx))
	_, inUse := faultOf(err).(*types.ResourceInUse)
	var still mo.ClusterComputeResource
	must(property.DefaultCollector(c).RetrieveOne(ctx, full.Reference(), []string{"host"}, &still), "DC0_C0")
	check(inUse && len(still.Host) == 3, "0052: Destroy_Task of a cluster with hosts is ResourceInUse, nothing removed (%v %d)", err, len(still.Host))
}

// searchDisk: the VmDiskFileInfo of [LocalDS_0] vdm/<name> (nil when absent).
func searchDisk(ctx context.Context, c *object.Datastore, name string) *types.VmDiskFileInfo {
	b, err := c.Browser(ctx)
	must(err, "browser")
	spec := types.HostDatastoreBrowserSearchSpec{MatchPattern: []string{name},
		Query: []types.BaseFileQuery{&types.VmDiskFileQuery{Details: &types.VmDiskFileQueryFlags{
			CapacityKb: true, DiskType: true, Thin: types.NewBool(true), ControllerType: types.NewBool(true)}}}}
	t, err := b.SearchDatastore(ctx, "[LocalDS_0] vdm", &spec)
	must(err, "SearchDatastore_Task")
	info, err := t.WaitForResult(ctx, nil)
	must(err, "SearchDatastore_Task result")
	res := info.Result.(types.HostDatastoreBrowserSearchResults)
	for _, f := range res.File {
		if d, ok := f.(*types.VmDiskFileInfo); ok && d.Path == name {
			return d
		}
	}
	return nil
}

func checkDiskProvisioning(ctx context.Context, s *sim) {
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	must(err, "datacenter")
	finder.SetDatacenter(dc)
	ds, err := finder.Datastore(ctx, "LocalDS_0")
	must(err, "datastore")
	must(object.NewFileManager(c).MakeDirectory(ctx, "[LocalDS_0] vdm", dc, true), "mkdir")
	vdm := object.NewVirtualDiskManager(c)
	create := func(name, diskType, adapter string) error {
		_, err := wait(vdm.CreateVirtualDisk(ctx, "[LocalDS_0] vdm/"+name, dc, &types.FileBackedVirtualDiskSpec{
			VirtualDiskSpec: types.VirtualDiskSpec{DiskType: diskType, AdapterType: adapter}, CapacityKb: 2048}))
		return err
	}
	descriptor := func(name string) string {
		b, _ := os.ReadFile(localFile(ctx, c, "[LocalDS_0] vdm/"+name))
		return string(b)
	}

	err = create("thin.vmdk", "thin", "busLogic")
	d := searchDisk(ctx, ds, "thin.vmdk")
	check(err == nil && d != nil && d.Thin != nil && *d.Thin && d.CapacityKb == 2048 && d.ControllerType == "VirtualBusLogicController",
		"0051: a thin busLogic disk no VM uses is reported thin with its capacity and controller (%v %+v)", err, d)
	err = create("lazy.vmdk", "preallocated", "lsiLogic")
	d = searchDisk(ctx, ds, "lazy.vmdk")
	check(err == nil && d != nil && d.Thin != nil && !*d.Thin && d.ControllerType == "VirtualLsiLogicController",
		"0051: a preallocated disk is reported thick (not thin) (%v %+v)", err, d)
	err = create("bad.vmdk", "sparse2Gb", "lsiLogic")
	_, isArg := faultOf(err).(*types.InvalidArgument)
	check(isArg && searchDisk(ctx, ds, "bad.vmdk") == nil, "0051: an unknown disk type is InvalidArgument, no file made (%v)", err)
	err = create("bad.vmdk", "thin", "scsi9")
	_, isArg = faultOf(err).(*types.InvalidArgument)
	check(isArg, "0051: an unknown adapter type is InvalidArgument (%v)", err)

	_, err = wait(eagerZero(ctx, c, vdm, "[LocalDS_0] vdm/thin.vmdk", dc))
	_, isFormat := faultOf(err).(*types.InvalidDiskFormat)
	check(isFormat && strings.Contains(descriptor("thin.vmdk"), `provisioning = "thin"`),
		"0051: EagerZeroVirtualDisk_Task on a thin disk is InvalidDiskFormat, the disk unchanged (%v)", err)
	_, err = wait(vdm.InflateVirtualDisk(ctx, "[LocalDS_0] vdm/thin.vmdk", dc))
	d = searchDisk(ctx, ds, "thin.vmdk")
	check(err == nil && d != nil && d.Thin != nil && !*d.Thin && d.CapacityKb == 2048 &&
		strings.Contains(descriptor("thin.vmdk"), `provisioning = "eagerZeroedThick"`) &&
		!strings.Contains(descriptor("thin.vmdk"), "thinProvisioned"),
		"0051: InflateVirtualDisk_Task makes a thin disk eagerZeroedThick, same capacity (%v %+v)", err, d)
	_, err = wait(eagerZero(ctx, c, vdm, "[LocalDS_0] vdm/lazy.vmdk", dc))
	check(err == nil && strings.Contains(descriptor("lazy.vmdk"), `provisioning = "eagerZeroedThick"`),
		"0051: EagerZeroVirtualDisk_Task makes a preallocated disk eagerZeroedThick (%v)", err)
	_, err = wait(vdm.InflateVirtualDisk(ctx, "[LocalDS_0] vdm/none.vmdk", dc))
	_, isNotFound := faultOf(err).(*types.FileNotFound)
	check(isNotFound, "0051: InflateVirtualDisk_Task of a missing disk is FileNotFound (%v)", err)
	free := func(name string) int64 {
		var m mo.Datastore
		must(property.DefaultCollector(c).RetrieveOne(ctx, byName(ctx, c, "Datastore", name), []string{"summary"}, &m), "summary")
		return m.Summary.FreeSpace
	}
	ds0, ds1 := free("LocalDS_0"), free("LocalDS_1")
	err = create("space.vmdk", "thin", "lsiLogic")
	check(err == nil && free("LocalDS_0") == ds0-2048*1024, "0051: CreateVirtualDisk_Task charges the capacity (%v %d)", err, ds0-free("LocalDS_0"))
	must(object.NewFileManager(c).MakeDirectory(ctx, "[LocalDS_1] vdm", dc, true), "mkdir")
	_, err = wait(vdm.MoveVirtualDisk(ctx, "[LocalDS_0] vdm/space.vmdk", dc, "[LocalDS_1] vdm/space.vmdk", dc, false))
	check(err == nil && free("LocalDS_0") == ds0 && free("LocalDS_1") == ds1-2048*1024,
		"0051: MoveVirtualDisk_Task moves the charge to the destination datastore (%v %d %d)", err, ds0-free("LocalDS_0"), ds1-free("LocalDS_1"))
	_, err = wait(vdm.DeleteVirtualDisk(ctx, "[LocalDS_1] vdm/space.vmdk", dc))
	check(err == nil && free("LocalDS_1") == ds1, "0051: DeleteVirtualDisk_Task gives the space back (%v %d)", err, ds1-free("LocalDS_1"))
	_, err = wait(vdm.DeleteVirtualDisk(ctx, "[LocalDS_1] vdm/space.vmdk", dc))
	check(err != nil && free("LocalDS_1") == ds1, "0051: deleting a missing disk fails and gives nothing back (%v %d)", err, ds1-free("LocalDS_1"))

	_, err = wait(vdm.CopyVirtualDisk(ctx, "[LocalDS_0] vdm/lazy.vmdk", dc, "[LocalDS_0] vdm/copy.vmdk", dc, nil, false))
	d = searchDisk(ctx, ds, "copy.vmdk")
	check(err == nil && d != nil && d.Thin != nil && !*d.Thin && strings.Contains(descriptor("copy.vmdk"), `provisioning = "eagerZeroedThick"`),
		"0051: CopyVirtualDisk_Task copies the descriptor's disk type (%v %+v)", err, d)
}

// eagerZero calls EagerZeroVirtualDisk_Task (govmomi's object package has no helper).
func eagerZero(ctx context.Context, c *vim25.Client, vdm *object.VirtualDiskManager, name string, dc *object.Datacenter) (*object.Task, error) {
	ref := dc.Reference()
	res, err := methods.EagerZeroVirtualDisk_Task(ctx, c, &types.EagerZeroVirtualDisk_Task{
		This: vdm.Reference(), Name: name, Datacenter: &ref})
	if err != nil {
		return nil, err
	}
	return object.NewTask(c, res.Returnval), nil
}
