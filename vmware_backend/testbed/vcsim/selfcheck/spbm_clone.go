package main

// Checks of patch 0046: the storage policies a CloneVM_Task's spec.location
// gives the clone (location.profile for the VM, a disk locator's profile
// for its disk), read back with PbmQueryAssociatedProfile.

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/vim25/types"
)

func runSpbmClone(bin string) {
	ctx := context.Background()
	s := start(bin, "-storage-policy", "Gold=LocalDS_1", "-storage-policy", "Both=LocalDS_0+LocalDS_1")
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	s.dirs = append(s.dirs, dsLocalPath(ctx, c, "LocalDS_0"), dsLocalPath(ctx, c, "LocalDS_1"))
	pc, err := pbm.NewClient(ctx, c)
	must(err, "pbm client")
	if err != nil {
		return
	}
	gold, _ := pc.ProfileIDByName(ctx, "Gold")
	both, _ := pc.ProfileIDByName(ctx, "Both")
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	must(err, "datacenter")
	folders, err := dc.Folders(ctx)
	must(err, "folders")
	pool := byName(ctx, c, "ResourcePool", "Resources")
	ds1 := byName(ctx, c, "Datastore", "LocalDS_1")
	profile := func(id string) []types.BaseVirtualMachineProfileSpec {
		return []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: id}}
	}
	res, err := wait(folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: "clone-source", GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}, VmProfile: profile(both),
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualLsiLogicController{VirtualSCSIController: types.VirtualSCSIController{
					VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: -10}}}}},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Profile: profile(both),
				Device: &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: -11, ControllerKey: -10, UnitNumber: types.NewInt32(0),
					Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: "persistent", ThinProvisioned: types.NewBool(true),
						VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0]"}}},
					CapacityInKB: 1024}},
		},
	}, object.NewResourcePool(c, pool), nil))
	must(err, "CreateVM_Task clone-source")
	if err != nil {
		return
	}
	src := object.NewVirtualMachine(c, res.(types.ManagedObjectReference))
	key := disks(ctx, c, src.Reference())[0].Key
	clone := func(name string, spec types.VirtualMachineCloneSpec) (types.ManagedObjectReference, string, string) {
		res, err := wait(src.Clone(ctx, folders.VmFolder, name, spec))
		must(err, "CloneVM_Task "+name)
		if err != nil {
			return types.ManagedObjectReference{}, "", ""
		}
		ref := res.(types.ManagedObjectReference)
		d := disks(ctx, c, ref)
		check(len(d) == 1 && d[0].Key == key, "0046: clone %s keeps the source's disk key %d", name, key)
		return ref, policyOf(ctx, pc, ref.Value, "virtualMachine"),
			policyOf(ctx, pc, fmt.Sprintf("%s:%d", ref.Value, key), "virtualDiskId")
	}
	ref, vmPolicy, diskPolicy := clone("clone-gold", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{
		Datastore: &ds1, Profile: profile(gold),
		Disk: []types.VirtualMachineRelocateSpecDiskLocator{{DiskId: key, Datastore: ds1, Profile: profile(gold)}}}})
	check(vmPolicy == gold && diskPolicy == gold, "0046: location.profile and the locator's profile give the clone and its disk their policy (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	check(policyOf(ctx, pc, fmt.Sprintf("%s:%d", src.Reference().Value, key), "virtualDiskId") == both &&
		policyOf(ctx, pc, src.Reference().Value, "virtualMachine") == both, "0046: the source keeps its own policies")
	ref, vmPolicy, diskPolicy = clone("clone-plain", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Datastore: &ds1}})
	check(vmPolicy == "" && diskPolicy == "", "0046: a clone without profiles has no policy (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	ref, vmPolicy, diskPolicy = clone("clone-config", types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Datastore: &ds1, Profile: profile(gold),
			Disk: []types.VirtualMachineRelocateSpecDiskLocator{{DiskId: key, Datastore: ds1, Profile: profile(both)}}},
		Config: &types.VirtualMachineConfigSpec{VmProfile: profile(both)}})
	check(vmPolicy == both && diskPolicy == both, "0046: spec.config's vmProfile wins for the VM; the locator's profile is the disk's (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	_, _ = wait(src.Destroy(ctx))
}
