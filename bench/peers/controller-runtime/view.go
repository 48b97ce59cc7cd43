package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

type grantFrom struct{ group, kind, namespace string }

// grantTo.name is "" when the entry allows every object of its group and kind.
type grantTo struct{ group, kind, name string }

type grant struct {
	from []grantFrom
	to   []grantTo
}

// View is what the rules read of the cluster, loaded once from manifests as
// ours does with `serve --manifests`.
type View struct {
	GatewayClassControllers map[string]string
	// ReferenceGrants by the namespace they live in (the target's).
	Grants map[string][]grant
}

// Granted: GEP-709, a grant in the target's namespace with a `from` entry for
// the referrer's group, kind and namespace and a `to` entry for the target's
// group and kind, with no name or the target's name.
func (v *View) Granted(fromGroup, fromKind, fromNamespace, toGroup, toKind, toNamespace, toName string) bool {
	for _, g := range v.Grants[toNamespace] {
		fromOK := false
		for _, f := range g.from {
			if f.group == fromGroup && f.kind == fromKind && f.namespace == fromNamespace {
				fromOK = true
				break
			}
		}
		if !fromOK {
			continue
		}
		for _, t := range g.to {
			if t.group == toGroup && t.kind == toKind && (t.name == "" || t.name == toName) {
				return true
			}
		}
	}
	return false
}

func loadView(dir string) (*View, error) {
	view := &View{GatewayClassControllers: map[string]string{}, Grants: map[string][]grant{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var object map[string]any
			if err := decoder.Decode(&object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			view.add(object)
		}
	}
	return view, nil
}

func (v *View) add(object map[string]any) {
	if object == nil {
		return
	}
	apiVersion, _ := object["apiVersion"].(string)
	if !strings.HasPrefix(apiVersion, gatewayAPIGroup+"/") {
		return
	}
	switch object["kind"] {
	case "GatewayClass":
		if name := stringAt(object, "metadata", "name"); name != "" {
			v.GatewayClassControllers[name] = stringAt(object, "spec", "controllerName")
		}
	case "ReferenceGrant":
		namespace := stringAt(object, "metadata", "namespace")
		if namespace == "" {
			namespace = "default"
		}
		spec, _ := record(object["spec"])
		var g grant
		froms, _ := spec["from"].([]any)
		for _, f := range froms {
			m, _ := record(f)
			kind, namespace := stringAt(m, "kind"), stringAt(m, "namespace")
			if kind != "" && namespace != "" {
				g.from = append(g.from, grantFrom{group: stringAt(m, "group"), kind: kind, namespace: namespace})
			}
		}
		tos, _ := spec["to"].([]any)
		for _, t := range tos {
			m, _ := record(t)
			if kind := stringAt(m, "kind"); kind != "" {
				g.to = append(g.to, grantTo{group: stringAt(m, "group"), kind: kind, name: stringAt(m, "name")})
			}
		}
		v.Grants[namespace] = append(v.Grants[namespace], g)
	}
}
