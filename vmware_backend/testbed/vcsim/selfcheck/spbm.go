package main

// Checks of the test bed's PBM endpoint (pbm.go: -storage-policy,
// PbmQueryMatchingHub, filtered PbmCheckRequirements,
// PbmQueryAssociatedProfile), patch 0043 (policies of VMs and disks) and
// patch 0044 (the vcSessionCookie header).

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	pbmmethods "github.com/vmware/govmomi/pbm/methods"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func pbmPost(c *vim25.Client, cookieHeader string) string {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns0="urn:pbm">
<soapenv:Header><vcSessionCookie>%s</vcSessionCookie></soapenv:Header>
<soapenv:Body><ns0:PbmQueryProfile><ns0:_this type="PbmProfileProfileManager">ProfileManager</ns0:_this>
<ns0:resourceType><ns0:resourceType>STORAGE</ns0:resourceType></ns0:resourceType></ns0:PbmQueryProfile></soapenv:Body></soapenv:Envelope>`, cookieHeader)
	u := *c.URL()
	u.Path = "/pbm"
	resp, err := http.Post(u.String(), "text/xml", strings.NewReader(body)) // no cookie jar
	return answerOf(resp, err, "raw PbmQueryProfile")
}

func policyOf(ctx context.Context, pc *pbm.Client, key, kind string) string {
	res, err := pbmmethods.PbmQueryAssociatedProfile(ctx, pc, &pbmtypes.PbmQueryAssociatedProfile{
		This: pc.ServiceContent.ProfileManager, Entity: pbmtypes.PbmServerObjectRef{ObjectType: kind, Key: key}})
	must(err, "PbmQueryAssociatedProfile "+key)
	if err != nil || len(res.Returnval) == 0 {
		return ""
	}
	return res.Returnval[0].UniqueId
}

func runSpbm(bin string) {
	ctx := context.Background()
	s, c, pc := startPolicies(ctx, bin)
	defer s.stop()
	if pc == nil {
		return
	}
	gold, err := pc.ProfileIDByName(ctx, "Gold")
	check(err == nil && gold != "", "pbm: -storage-policy Gold is a policy (%s %v)", gold, err)
	both, _ := pc.ProfileIDByName(ctx, "Both")
	vsan, _ := pc.ProfileIDByName(ctx, "vSAN Default Storage Policy")
	ds0 := byName(ctx, c, "Datastore", "LocalDS_0")
	ds1 := byName(ctx, c, "Datastore", "LocalDS_1")
	hubs := []pbmtypes.PbmPlacementHub{{HubType: "Datastore", HubId: ds0.Value}, {HubType: "Datastore", HubId: ds1.Value}}
	matching := func(id string) ([]string, error) {
		res, err := pbmmethods.PbmQueryMatchingHub(ctx, pc, &pbmtypes.PbmQueryMatchingHub{
			This: pc.ServiceContent.PlacementSolver, HubsToSearch: hubs, Profile: pbmtypes.PbmProfileId{UniqueId: id}})
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, h := range res.Returnval {
			ids = append(ids, h.HubId)
		}
		return ids, nil
	}
	got, err := matching(gold)
	check(err == nil && reflectEqual(got, []string{ds1.Value}), "pbm: PbmQueryMatchingHub Gold -> LocalDS_1 only (%v %v)", got, err)
	got, err = matching(both)
	check(err == nil && reflectEqual(got, []string{ds0.Value, ds1.Value}), "pbm: PbmQueryMatchingHub Both -> both (%v %v)", got, err)
	got, err = matching(vsan)
	check(err == nil && len(got) == 0, "pbm: no datastore complies with the built-in vSAN policy (%v %v)", got, err)
	_, err = matching("no-such-id")
	_, invalid := faultOf(err).(*types.InvalidArgument)
	check(invalid, "pbm: PbmQueryMatchingHub of an unknown profile is InvalidArgument (%v)", err)
	req := []pbmtypes.BasePbmPlacementRequirement{&pbmtypes.PbmPlacementCapabilityProfileRequirement{ProfileId: pbmtypes.PbmProfileId{UniqueId: gold}}}
	result, err := pc.CheckRequirements(ctx, hubs, nil, req)
	check(err == nil && len(result) == 1 && result[0].Hub.HubId == ds1.Value, "pbm: PbmCheckRequirements with Gold -> LocalDS_1 only (%v)", err)

	// 0043: the policy a created/reconfigured VM and disk got
	folder, pool := vmFolderAndPool(ctx, c)
	res, err := wait(folder.CreateVM(ctx, oneDiskVM("policy-vm", "LocalDS_1", 1024, gold), object.NewResourcePool(c, pool), nil))
	must(err, "CreateVM_Task policy-vm")
	if err != nil {
		return
	}
	vmRef := res.(types.ManagedObjectReference)
	d := disks(ctx, c, vmRef)
	diskKey := fmt.Sprintf("%s:%d", vmRef.Value, d[0].Key)
	check(policyOf(ctx, pc, vmRef.Value, "virtualMachine") == gold, "0043: the created VM has the policy of its vmProfile")
	check(policyOf(ctx, pc, diskKey, "virtualDiskId") == gold, "0043: its disk %s has the policy of its profile", diskKey)
	vm := object.NewVirtualMachine(c, vmRef)
	_, err = wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{VmProfile: []types.BaseVirtualMachineProfileSpec{&types.VirtualMachineEmptyProfileSpec{}}}))
	check(err == nil && policyOf(ctx, pc, vmRef.Value, "virtualMachine") == "" && policyOf(ctx, pc, diskKey, "virtualDiskId") == gold,
		"0043: an empty profile spec removes the VM's policy, the disk keeps its own (%v)", err)
	_, err = wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d[0], Profile: profileSpec(both)}}}))
	check(err == nil && policyOf(ctx, pc, diskKey, "virtualDiskId") == both, "0043: a disk edit with a profile changes the disk's policy (%v)", err)
	_, err = wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{Annotation: "x"}))
	check(err == nil && policyOf(ctx, pc, diskKey, "virtualDiskId") == both, "0043: a reconfigure without profiles keeps them (%v)", err)
	_, _ = wait(vm.Destroy(ctx))

	// 0044: the vcSessionCookie header alone authenticates a PBM request
	var key string
	for _, ck := range c.Client.Jar.Cookies(c.URL()) {
		if ck.Name == soap.SessionCookieName {
			key = ck.Value
		}
	}
	out := pbmPost(c, key)
	check(key != "" && strings.Contains(out, "PbmQueryProfileResponse") && !strings.Contains(out, "NotAuthenticated"),
		"0044: a PBM request with only the vcSessionCookie header is answered")
	out = pbmPost(c, "not-a-session")
	check(strings.Contains(out, "NotAuthenticated"), "0044: an unknown vcSessionCookie is NotAuthenticated")
}
