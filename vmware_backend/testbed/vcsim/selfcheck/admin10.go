package main

// Checks of the admin10 test bed patches: 0050 (disk edits in a clone
// spec's config, edits without deviceInfo).

import (
	"context"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
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
}
