package main

// Set-up shared by several self-checks: the default datacenter's VM folder
// and resource pool, the spec of a VM with one thin disk (with or without a
// storage policy), the answer of a raw SOAP request, and a simulator with
// storage policies and its PBM client.

import (
	"context"
	"io"
	"net/http"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// vmFolderAndPool: the default datacenter's VM folder and the resource
// pool "Resources".
func vmFolderAndPool(ctx context.Context, c *vim25.Client) (*object.Folder, types.ManagedObjectReference) {
	finder := find.NewFinder(c, true)
	dc, err := finder.DefaultDatacenter(ctx)
	must(err, "datacenter")
	folders, err := dc.Folders(ctx)
	must(err, "folders")
	return folders.VmFolder, byName(ctx, c, "ResourcePool", "Resources")
}

// profileSpec: the vmProfile of storage policy id.
func profileSpec(id string) []types.BaseVirtualMachineProfileSpec {
	return []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineDefinedProfileSpec{ProfileId: id}}
}

// oneDiskVM: a VM on datastore ds with an LSI Logic controller and one thin
// disk of kb KiB; policy (a profile id, or "") for the VM and its disk.
func oneDiskVM(name, ds string, kb int64, policy string) types.VirtualMachineConfigSpec {
	var profile []types.BaseVirtualMachineProfileSpec
	if policy != "" {
		profile = profileSpec(policy)
	}
	return types.VirtualMachineConfigSpec{
		Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files: &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"}, VmProfile: profile,
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				Device: &types.VirtualLsiLogicController{VirtualSCSIController: types.VirtualSCSIController{
					VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: -10}}}}},
			&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
				FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Profile: profile,
				Device: &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: -11, ControllerKey: -10, UnitNumber: types.NewInt32(0),
					Backing: &types.VirtualDiskFlatVer2BackingInfo{DiskMode: "persistent", ThinProvisioned: types.NewBool(true),
						VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[" + ds + "]"}}},
					CapacityInKB: kb}},
		},
	}
}

// answerOf: the body of a raw HTTP answer ("" when the request failed).
func answerOf(resp *http.Response, err error, what string) string {
	must(err, what)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return string(out)
}

// startPolicies: a simulator with the storage policies Gold (LocalDS_1)
// and Both (LocalDS_0 and LocalDS_1), a logged-in client and its PBM
// client (nil when it could not be made).
func startPolicies(ctx context.Context, bin string) (*sim, *vim25.Client, *pbm.Client) {
	s := start(bin, "-storage-policy", "Gold=LocalDS_1", "-storage-policy", "Both=LocalDS_0+LocalDS_1")
	ready := false
	defer func() {
		if !ready { // must() panicked: stop the simulator on the way out
			s.stop()
		}
	}()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	s.dirs = append(s.dirs, dsLocalPath(ctx, c, "LocalDS_0"), dsLocalPath(ctx, c, "LocalDS_1"))
	pc, err := pbm.NewClient(ctx, c)
	must(err, "pbm client")
	ready = true
	return s, c, pc
}
