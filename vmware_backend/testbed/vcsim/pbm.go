package main

// The test bed's PBM (storage policy) endpoint at /pbm: govmomi 0.24.2's
// PBM simulator (pbm/simulator: service content, PbmQueryProfile,
// PbmRetrieveContent, PbmCreate, PbmDelete, PbmCheckRequirements) with what
// it lacks for the VMDK driver:
//
//   - storage policies that given datastores comply with (-storage-policy
//     NAME=DS[+DS...], repeatable; e.g. a tag-based policy whose tag the
//     administrator put on those datastores);
//   - PbmQueryMatchingHub: the hubs (datastores) of hubsToSearch that
//     comply with a policy: those named for a -storage-policy policy, all
//     for a policy without requirements, none for the simulator's built-in
//     vSAN/VVol/encryption/PMem policies (no such datastore exists); an
//     unknown profile id is InvalidArgument (profile);
//   - PbmCheckRequirements filtered the same way when a profile requirement
//     is given;
//   - PbmQueryAssociatedProfile: the policy a VM ("virtualMachine", key
//     "vm-N") or a virtual disk ("virtualDiskId", key "vm-N:<disk key>") got
//     from its last create/reconfigure (patch 0043).

import (
	"flag"
	"fmt"
	"strings"

	pbmmethods "github.com/vmware/govmomi/pbm/methods"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// policyFlag collects -storage-policy NAME=DS[+DS...] values.
type policyFlag []string

func (p *policyFlag) String() string     { return strings.Join(*p, ",") }
func (p *policyFlag) Set(v string) error { *p = append(*p, v); return nil }

var storagePolicies policyFlag

// policy id -> names of the datastores that comply with it (nil: all).
var compliant = map[string]map[string]bool{}

func init() {
	flag.Var(&storagePolicies, "storage-policy", "a storage policy NAME=DS[+DS...] that these datastores comply with (repeatable)")
}

// installPbm serves the test bed's PBM registry at /pbm (main calls it once
// the server exists; Service.RegisterEndpoints stays false, so
// pbm/simulator's own endpoint is not registered).
func installPbm(s *simulator.Service) {
	s.RegisterSDK(testbedPbm())
}

type profileManager struct {
	*pbmsim.ProfileManager
}

type placementSolver struct {
	*pbmsim.PlacementSolver
	profiles *pbmsim.ProfileManager
}

func testbedPbm() *simulator.Registry {
	r := pbmsim.New()
	var content pbmtypes.PbmServiceInstanceContent
	for _, obj := range []types.ManagedObjectReference{{Type: "PbmServiceInstance", Value: "ServiceInstance"}} {
		content = r.Get(obj).(*pbmsim.ServiceInstance).Content
	}
	pm := r.Get(content.ProfileManager).(*pbmsim.ProfileManager)
	ps := r.Get(content.PlacementSolver).(*pbmsim.PlacementSolver)
	ctx := &simulator.Context{Session: &simulator.Session{UserSession: types.UserSession{UserName: "testbed"}}}
	for _, value := range storagePolicies {
		name, list, ok := strings.Cut(value, "=")
		if !ok || name == "" || list == "" {
			panic(fmt.Sprintf("-storage-policy %q: expected NAME=DS[+DS...]", value))
		}
		res := pm.PbmCreate(ctx, &pbmtypes.PbmCreate{CreateSpec: pbmtypes.PbmCapabilityProfileCreateSpec{
			Name: name, Description: "test bed policy for " + list, Category: "REQUIREMENT",
			ResourceType: pbmtypes.PbmProfileResourceType{ResourceType: "STORAGE"},
			Constraints:  &pbmtypes.PbmCapabilitySubProfileConstraints{SubProfiles: []pbmtypes.PbmCapabilitySubProfile{{Name: "tag-based placement"}}},
		}}).(*pbmmethods.PbmCreateBody)
		names := map[string]bool{}
		for _, ds := range strings.Split(list, "+") {
			names[ds] = true
		}
		compliant[res.Res.Returnval.UniqueId] = names
	}
	r.Put(&profileManager{pm})
	r.Put(&placementSolver{ps, pm})
	return r
}

// matches: whether the datastore with this moref value complies with the
// profile; ok false for an unknown profile id.
func (s *placementSolver) matches(profile string) (func(string) bool, bool) {
	if names, ok := compliant[profile]; ok {
		return func(value string) bool {
			ds, isDS := simulator.Map.Get(types.ManagedObjectReference{Type: "Datastore", Value: value}).(*simulator.Datastore)
			return isDS && names[ds.Name]
		}, true
	}
	body, ok := s.profiles.PbmRetrieveContent(&pbmtypes.PbmRetrieveContent{
		ProfileIds: []pbmtypes.PbmProfileId{{UniqueId: profile}}}).(*pbmmethods.PbmRetrieveContentBody)
	if !ok || body.Fault_ != nil || body.Res == nil || len(body.Res.Returnval) == 0 {
		return nil, false
	}
	none := true
	if p, isCap := body.Res.Returnval[0].(*pbmtypes.PbmCapabilityProfile); isCap {
		if c, isSub := p.Constraints.(*pbmtypes.PbmCapabilitySubProfileConstraints); isSub && len(c.SubProfiles) > 0 {
			none = false
		}
	}
	return func(string) bool { return none }, true
}

func (s *placementSolver) PbmQueryMatchingHub(req *pbmtypes.PbmQueryMatchingHub) soap.HasFault {
	body := new(pbmmethods.PbmQueryMatchingHubBody)
	match, ok := s.matches(req.Profile.UniqueId)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "profile"})
		return body
	}
	body.Res = new(pbmtypes.PbmQueryMatchingHubResponse)
	for _, hub := range req.HubsToSearch {
		if hub.HubType == "Datastore" && match(hub.HubId) {
			body.Res.Returnval = append(body.Res.Returnval, hub)
		}
	}
	return body
}

func (s *placementSolver) PbmCheckRequirements(req *pbmtypes.PbmCheckRequirements) soap.HasFault {
	res := s.PlacementSolver.PbmCheckRequirements(req).(*pbmmethods.PbmCheckRequirementsBody)
	for _, r := range req.PlacementSubjectRequirement {
		p, ok := r.(*pbmtypes.PbmPlacementCapabilityProfileRequirement)
		if !ok {
			continue
		}
		match, known := s.matches(p.ProfileId.UniqueId)
		if !known {
			return &pbmmethods.PbmCheckRequirementsBody{Fault_: simulator.Fault("", &types.InvalidArgument{InvalidProperty: "profileId"})}
		}
		var kept []pbmtypes.PbmPlacementCompatibilityResult
		for _, result := range res.Res.Returnval {
			if match(result.Hub.HubId) {
				kept = append(kept, result)
			}
		}
		res.Res.Returnval = kept
	}
	return res
}

func (m *profileManager) PbmQueryAssociatedProfile(req *pbmtypes.PbmQueryAssociatedProfile) soap.HasFault {
	body := &pbmmethods.PbmQueryAssociatedProfileBody{Res: new(pbmtypes.PbmQueryAssociatedProfileResponse)}
	switch req.Entity.ObjectType {
	case "virtualMachine", "virtualDiskId":
		if id, ok := simulator.StorageProfileOf(req.Entity.Key); ok {
			body.Res.Returnval = []pbmtypes.PbmProfileId{{UniqueId: id}}
		}
	}
	return body
}
