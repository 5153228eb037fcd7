package main

// Checks of patch 0060 (the VI/JSON endpoint) and 0061 (views of an ended
// session leave viewList): release negotiation, the wire shapes against the
// real vCenter samples in tests/fixtures/vijson, the same inventory over
// VI/JSON and SOAP, paging tokens, cancel, faults, sessions, unknown
// releases.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
)

type jclient struct {
	base, release, key string
}

func (j *jclient) do(method, path string, body interface{}) (int, http.Header, interface{}) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(err, "marshal")
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, j.base+path, rd)
	must(err, "request")
	req.Header.Set("Content-Type", "application/json")
	if j.key != "" {
		req.Header.Set("vmware-api-session-id", j.key)
	}
	res, err := http.DefaultClient.Do(req)
	must(err, method+" "+path)
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out interface{}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(data) > 0 {
		must(json.Unmarshal(data, &out), "decode "+path+": "+string(data))
	}
	return res.StatusCode, res.Header, out
}

func (j *jclient) call(typ, id, method string, body interface{}) (int, http.Header, interface{}) {
	return j.do("POST", fmt.Sprintf("/sdk/vim25/%s/%s/%s/%s", j.release, typ, id, method), body)
}

func jref(typ, value string) map[string]interface{} {
	return map[string]interface{}{"_typeName": "ManagedObjectReference", "type": typ, "value": value}
}

func obj(v interface{}) map[string]interface{} {
	m, _ := v.(map[string]interface{})
	return m
}

func typeName(v interface{}) string {
	s, _ := obj(v)["_typeName"].(string)
	return s
}

func fixture(name string) interface{} {
	dir := os.Getenv("VIJSON_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "tests", "fixtures", "vijson")
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	must(err, "fixture "+name+" (set VIJSON_FIXTURES)")
	var out interface{}
	must(json.Unmarshal(data, &out), "fixture "+name)
	return out
}

// sameShape: every key of the sample is in got with a value of the same
// JSON kind; "_typeName" values equal; objects compared recursively.
func sameShape(sample, got interface{}, path string) string {
	switch s := sample.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return path + ": not an object"
		}
		for k, sv := range s {
			gv, ok := g[k]
			if !ok {
				return path + "." + k + ": missing"
			}
			if k == "_typeName" && sv != gv {
				return fmt.Sprintf("%s._typeName: %v, sample %v", path, gv, sv)
			}
			if msg := sameShape(sv, gv, path+"."+k); msg != "" {
				return msg
			}
		}
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) == 0 {
			return path + ": not a non-empty array"
		}
		return sameShape(s[0], g[0], path+"[0]")
	case string:
		if _, ok := got.(string); !ok {
			return path + ": not a string"
		}
	case bool:
		if _, ok := got.(bool); !ok {
			return path + ": not a boolean"
		}
	case float64:
		if _, ok := got.(float64); !ok {
			return path + ": not a number"
		}
	}
	return ""
}

// vmRows: "moref name instanceUuid extraConfig-count" of every VM.
func jsonVMRows(j *jclient, content map[string]interface{}) ([]string, int, int) {
	_, _, view := j.call("ViewManager", "ViewManager", "CreateContainerView", map[string]interface{}{
		"container": content["rootFolder"], "type": []string{"VirtualMachine"}, "recursive": true})
	v := obj(view)
	spec := map[string]interface{}{
		"_typeName": "PropertyFilterSpec",
		"objectSet": []interface{}{map[string]interface{}{
			"_typeName": "ObjectSpec", "obj": v, "skip": true,
			"selectSet": []interface{}{map[string]interface{}{
				"_typeName": "TraversalSpec", "name": "v", "type": "ContainerView", "path": "view", "skip": false}}}},
		"propSet": []interface{}{map[string]interface{}{
			"_typeName": "PropertySpec", "type": "VirtualMachine",
			"pathSet": []string{"name", "config.instanceUuid", "config.extraConfig"}}},
	}
	var rows []string
	pages, tokens := 0, 0
	_, _, res := j.call("PropertyCollector", "propertyCollector", "RetrievePropertiesEx", map[string]interface{}{
		"specSet": []interface{}{spec}, "options": map[string]interface{}{"_typeName": "RetrieveOptions", "maxObjects": 2}})
	for res != nil {
		pages++
		for _, o := range obj(res)["objects"].([]interface{}) {
			props := map[string]interface{}{}
			for _, p := range obj(o)["propSet"].([]interface{}) {
				props[obj(p)["name"].(string)] = obj(obj(p)["val"])["_value"]
			}
			extra, _ := props["config.extraConfig"].([]interface{})
			rows = append(rows, fmt.Sprintf("%s %v %v %d", obj(obj(o)["obj"])["value"], props["name"], props["config.instanceUuid"], len(extra)))
		}
		token, _ := obj(res)["token"].(string)
		if token == "" {
			break
		}
		tokens++
		_, _, res = j.call("PropertyCollector", "propertyCollector", "ContinueRetrievePropertiesEx", map[string]interface{}{"token": token})
	}
	status, _, _ := j.call("ContainerView", v["value"].(string), "DestroyView", nil)
	check(status == 204, "0060: DestroyView answers 204 No Content (%d)", status)
	sort.Strings(rows)
	return rows, pages, tokens
}

func runVIJSON(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	base := "http://" + s.url.Host
	j := &jclient{base: base, release: "8.0.2.0"}

	// release negotiation
	st, _, out := j.do("POST", "/api/vcenter/system?action=hello", map[string]interface{}{"api_releases": []string{"9.0.0.0", "8.0.2.0", "8.0.1.0"}})
	check(st == 200 && obj(out)["api_release"] == "8.0.2.0", "0060: hello picks the first release the server serves (%d %v)", st, out)
	check(sameShape(fixture("hello_response.json"), out, "hello") == "", "0060: hello answer has the documented shape")
	st, _, out = j.do("POST", "/api/vcenter/system?action=hello", map[string]interface{}{"api_releases": []string{"7.0.0.0"}})
	check(st == 200 && obj(out)["api_release"] == "", "0060: no common release -> api_release \"\" (%d %v)", st, out)
	st, _, _ = j.do("POST", "/api/vcenter/system?action=hello", map[string]interface{}{"api_releases": []string{}})
	check(st == 400, "0060: hello with no release -> 400 (%d)", st)

	// the service content, before login, shaped as the real sample
	st, _, content := j.do("GET", "/sdk/vim25/8.0.2.0/ServiceInstance/ServiceInstance/content", nil)
	check(st == 200 && typeName(content) == "ServiceContent", "0060: GET ServiceInstance content before login (%d)", st)
	msg := sameShape(fixture("service_content.json"), content, "content")
	check(msg == "", "0060: ServiceContent has the real vCenter sample's shape (%s)", msg)
	rf := obj(obj(content)["rootFolder"])
	check(rf["type"] == "Folder" && rf["value"] == "group-d1" && len(rf) == 3, "0060: rootFolder is {_typeName, type, value} (%v)", rf)

	// unknown release, method, moref; no session
	st, _, _ = j.do("GET", "/sdk/vim25/7.0.0.0/ServiceInstance/ServiceInstance/content", nil)
	check(st == 404, "0060: an unknown release -> 404 (%d)", st)
	st, _, _ = j.call("ViewManager", "ViewManager", "NoSuchMethod", nil)
	check(st == 404, "0060: an unknown method -> 404 (%d)", st)
	st, _, out = j.call("ViewManager", "ViewManager", "CreateContainerView", map[string]interface{}{
		"container": rf, "type": []string{"VirtualMachine"}, "recursive": true})
	check(st == 500 && typeName(out) == "NotAuthenticated", "0060: a call without session -> NotAuthenticated fault (%d %v)", st, out)

	// login
	st, _, out = j.call("SessionManager", "SessionManager", "Login", map[string]interface{}{"userName": "user", "password": "wrong"})
	check(st == 500 && typeName(out) == "InvalidLogin", "0060: a bad password -> InvalidLogin fault (%d %v)", st, out)
	st, hdr, us := j.call("SessionManager", "SessionManager", "Login", map[string]interface{}{"userName": "user", "password": "pass"})
	j.key = hdr.Get("vmware-api-session-id")
	check(st == 200 && j.key != "" && obj(us)["key"] == j.key, "0060: Login returns the UserSession and its key in vmware-api-session-id (%d)", st)
	msg = sameShape(fixture("user_session.json"), us, "session")
	check(msg == "", "0060: UserSession has the real vCenter sample's shape (%s)", msg)
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$`)
	check(stamp.MatchString(fmt.Sprint(obj(us)["loginTime"])), "0060: dateTime as the sample writes it (%v)", obj(us)["loginTime"])
	check(hdr.Get("Set-Cookie") == "", "0060: no SOAP cookie on a VI/JSON login")

	// the published request body, as sent by the sample client
	_, _, v := j.call("ViewManager", "ViewManager", "CreateContainerView", map[string]interface{}{
		"container": rf, "type": []string{"VirtualMachine", "HostSystem"}, "recursive": true})
	check(typeName(v) == "ManagedObjectReference" && obj(v)["type"] == "ContainerView", "0060: CreateContainerView returns the view's reference")
	check(sameShape(fixture("container_view.json"), v, "view") == "", "0060: view reference has the sample's shape")
	req := obj(fixture("retrieve_properties_ex_request.json"))
	obj(obj(req["specSet"].([]interface{})[0])["objectSet"].([]interface{})[0])["obj"] = v
	st, _, res := j.call("PropertyCollector", "propertyCollector", "RetrievePropertiesEx", req)
	check(st == 200 && typeName(res) == "RetrieveResult" && obj(res)["token"] != nil, "0060: the sample's RetrievePropertiesEx body is accepted; maxObjects 5 leaves a token (%d)", st)
	var host interface{}
	for _, o := range obj(res)["objects"].([]interface{}) {
		if obj(obj(o)["obj"])["type"] == "HostSystem" {
			host = o
		}
	}
	if host == nil {
		_, _, more := j.call("PropertyCollector", "propertyCollector", "ContinueRetrievePropertiesEx", map[string]interface{}{"token": obj(res)["token"]})
		for _, o := range obj(more)["objects"].([]interface{}) {
			if obj(obj(o)["obj"])["type"] == "HostSystem" && host == nil {
				host = o
			}
		}
		res = more
	}
	msg = sameShape(fixture("object_content.json"), host, "objectContent")
	check(msg == "", "0060: a host's ObjectContent has the real sample's shape, name as {string, _value} (%s)", msg)
	if token, _ := obj(res)["token"].(string); token != "" {
		st, _, _ = j.call("PropertyCollector", "propertyCollector", "CancelRetrievePropertiesEx", map[string]interface{}{"token": token})
		check(st == 204, "0060: CancelRetrievePropertiesEx -> 204 (%d)", st)
		st, _, out = j.call("PropertyCollector", "propertyCollector", "ContinueRetrievePropertiesEx", map[string]interface{}{"token": token})
		check(st == 500 && typeName(out) == "InvalidArgument", "0060: a cancelled token -> InvalidArgument fault (%d %v)", st, out)
	}
	j.call("ContainerView", obj(v)["value"].(string), "DestroyView", nil)

	// bad bodies and morefs
	st, _, out = j.call("PropertyCollector", "propertyCollector", "RetrievePropertiesEx", map[string]interface{}{
		"specSet": []interface{}{map[string]interface{}{"_typeName": "NoSuchType"}}})
	check(st == 400 && typeName(out) == "InvalidRequest", "0060: an unknown _typeName -> 400 InvalidRequest (%d %v)", st, out)
	st, _, out = j.call("ContainerView", "no-such-view", "DestroyView", nil)
	check(st == 500 && typeName(out) == "ManagedObjectNotFound", "0060: an unknown moref -> ManagedObjectNotFound (%d %v)", st, out)

	// the same inventory over VI/JSON and SOAP
	rows, pages, tokens := jsonVMRows(j, obj(content))
	c, err := s.client(ctx, "user", "pass")
	must(err, "soap login")
	m := view.NewManager(c)
	cv, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	must(err, "soap view")
	var vms []mo.VirtualMachine
	must(cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.instanceUuid", "config.extraConfig"}, &vms), "soap retrieve")
	_ = cv.Destroy(ctx)
	var soapRows []string
	for _, vm := range vms {
		soapRows = append(soapRows, fmt.Sprintf("%s %s %s %d", vm.Self.Value, vm.Name, vm.Config.InstanceUuid, len(vm.Config.ExtraConfig)))
	}
	sort.Strings(soapRows)
	check(len(rows) > 2 && reflectEqual(rows, soapRows), "0060: the same VMs, names, instanceUuids, extraConfig over VI/JSON and SOAP (%d, %d)", len(rows), len(soapRows))
	check(pages == (len(rows)+1)/2 && tokens == pages-1, "0060: pages of maxObjects 2 with a token on all but the last (%d pages, %d tokens)", pages, tokens)

	// viewList, expiry, logout
	st, _, vl := j.do("GET", "/sdk/vim25/8.0.2.0/ViewManager/ViewManager/viewList", nil)
	arr, isArray := vl.([]interface{})
	check(st == 200 && isArray && len(arr) == 0, "0060: GET viewList: a bare array, empty after DestroyView (%d, %v)", st, vl)
	_, _, v = j.call("ViewManager", "ViewManager", "CreateContainerView", map[string]interface{}{
		"container": rf, "type": []string{"HostSystem"}, "recursive": true})
	var vmgr mo.ViewManager
	must(property.DefaultCollector(c).RetrieveOne(ctx, *c.ServiceContent.ViewManager, []string{"viewList"}, &vmgr), "viewList")
	check(len(vmgr.ViewList) == 1, "0061: the VI/JSON session's view is listed (%d)", len(vmgr.ViewList))
	st, _, _ = j.call("SessionManager", "SessionManager", "Logout", nil)
	check(st == 204, "0060: Logout -> 204 (%d)", st)
	must(property.DefaultCollector(c).RetrieveOne(ctx, *c.ServiceContent.ViewManager, []string{"viewList"}, &vmgr), "viewList")
	check(len(vmgr.ViewList) == 0, "0061: the view left viewList with its session (%v)", vmgr.ViewList)
	st, _, out = j.call("ViewManager", "ViewManager", "CreateContainerView", map[string]interface{}{
		"container": rf, "type": []string{"HostSystem"}, "recursive": true})
	check(st == 500 && typeName(out) == "NotAuthenticated", "0060: the logged-out key -> NotAuthenticated (%d %v)", st, out)
}

// runVIJSONReleases: -vijson-releases "" (no VI/JSON) and 8.0.1.0 (8.0 U1: no hello).
func runVIJSONReleases(bin string) {
	s := start(bin, "-vijson-releases", "")
	j := &jclient{base: "http://" + s.url.Host, release: "8.0.1.0"}
	st, _, _ := j.do("POST", "/api/vcenter/system?action=hello", map[string]interface{}{"api_releases": []string{"8.0.1.0"}})
	st2, _, _ := j.do("GET", "/sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content", nil)
	check(st == 404 && st2 == 404, "0060: -vijson-releases \"\": hello and /sdk/vim25 answer 404 (%d %d)", st, st2)
	s.stop()

	s = start(bin, "-vijson-releases", "8.0.1.0")
	defer s.stop()
	j = &jclient{base: "http://" + s.url.Host, release: "8.0.1.0"}
	st, _, _ = j.do("POST", "/api/vcenter/system?action=hello", map[string]interface{}{"api_releases": []string{"8.0.1.0"}})
	st2, _, out := j.do("GET", "/sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content", nil)
	check(st == 404 && st2 == 200 && typeName(out) == "ServiceContent", "0060: 8.0.1.0 only: no hello (404), VI/JSON at 8.0.1.0 (%d %d)", st, st2)
	st, _, _ = j.do("GET", "/sdk/vim25/8.0.2.0/ServiceInstance/ServiceInstance/content", nil)
	check(st == 404, "0060: 8.0.1.0 only: 8.0.2.0 -> 404 (%d)", st)
}
