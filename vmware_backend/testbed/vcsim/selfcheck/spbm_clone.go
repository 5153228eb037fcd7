package main

// Checks of patch 0046: the storage policies a CloneVM_Task's spec.location
// gives the clone (location.profile for the VM, a disk locator's profile
// for its disk), read back with PbmQueryAssociatedProfile.

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func runSpbmClone(bin string) {
	ctx := context.Background()
	s, c, pc := startPolicies(ctx, bin)
	defer s.stop()
	if pc == nil {
		return
	}
	gold, _ := pc.ProfileIDByName(ctx, "Gold")
	both, _ := pc.ProfileIDByName(ctx, "Both")
	folder, pool := vmFolderAndPool(ctx, c)
	ds1 := byName(ctx, c, "Datastore", "LocalDS_1")
	res, err := wait(folder.CreateVM(ctx, oneDiskVM("clone-source", "LocalDS_0", 1024, both), object.NewResourcePool(c, pool), nil))
	must(err, "CreateVM_Task clone-source")
	if err != nil {
		return
	}
	src := object.NewVirtualMachine(c, res.(types.ManagedObjectReference))
	key := disks(ctx, c, src.Reference())[0].Key
	clone := func(name string, spec types.VirtualMachineCloneSpec) (types.ManagedObjectReference, string, string) {
		res, err := wait(src.Clone(ctx, folder, name, spec))
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
		Datastore: &ds1, Profile: profileSpec(gold),
		Disk: []types.VirtualMachineRelocateSpecDiskLocator{{DiskId: key, Datastore: ds1, Profile: profileSpec(gold)}}}})
	check(vmPolicy == gold && diskPolicy == gold, "0046: location.profile and the locator's profile give the clone and its disk their policy (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	check(policyOf(ctx, pc, fmt.Sprintf("%s:%d", src.Reference().Value, key), "virtualDiskId") == both &&
		policyOf(ctx, pc, src.Reference().Value, "virtualMachine") == both, "0046: the source keeps its own policies")
	ref, vmPolicy, diskPolicy = clone("clone-plain", types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Datastore: &ds1}})
	check(vmPolicy == "" && diskPolicy == "", "0046: a clone without profiles has no policy (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	ref, vmPolicy, diskPolicy = clone("clone-config", types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Datastore: &ds1, Profile: profileSpec(gold),
			Disk: []types.VirtualMachineRelocateSpecDiskLocator{{DiskId: key, Datastore: ds1, Profile: profileSpec(both)}}},
		Config: &types.VirtualMachineConfigSpec{VmProfile: profileSpec(both)}})
	check(vmPolicy == both && diskPolicy == both, "0046: spec.config's vmProfile wins for the VM; the locator's profile is the disk's (%q %q)", vmPolicy, diskPolicy)
	_, _ = wait(object.NewVirtualMachine(c, ref).Destroy(ctx))
	_, _ = wait(src.Destroy(ctx))
}
